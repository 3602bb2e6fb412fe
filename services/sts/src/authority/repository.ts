// The authority's reads and the one session write, and nothing else touches these tables from the STS (STYLE 8).
// `context` reads everything a decision needs in one round trip, by key (migration 0021; 0025 leaves the graph's
// tables alone when no graph is asked for): the lineage of the presented mandate (session, application, revocations
// of any link), the application's grant on the resource and its labels; `contextWith` reads, in the same round trip,
// the graph above a delegated mint: whole beside the context (migrations 0007, 0018, 0020) the first time, then only
// what can change of it while this instance keeps its shape, in the same keyed function (graph-shapes.ts). A context
// without a graph that allows is kept in this process's authority view (view.ts) until its zone announces a change.
import { withZone, type Pool } from '@caracal/db';
import type { DenyReason } from '@caracal/deny-reasons';
import { graphFromState, GraphShapes, type StateRow } from './graph-shapes.js';
import { recordOrConsumeApproval, type ApprovalOutcome, type ApprovalRequest } from './approvals.js';
import type { ResourceGrant } from './resource-grant.js';
import type { AuthorityView } from './view.js';

export interface Lineage {
  sid: string;
  clientId: string;
  agentSessionId?: string;
  delegationEdgeId?: string;
  /** Further records the mandate descends from (its delegation chain); a revocation of any of them revokes it. */
  ancestors?: readonly string[];
}

export interface LineageState {
  applicationId: string;
  sessionExpiresAt: Date;
}

export type LineageResult = { ok: true; state: LineageState } | { ok: false; reason: Extract<DenyReason, 'session_unknown' | 'lineage_mismatch' | 'lineage_revoked' | 'session_expired'> };

export interface AuthorityContext {
  lineage: LineageResult;
  /** undefined when the resource does not exist in the zone. */
  rg: ResourceGrant | undefined;
}

interface Row {
  session_found: boolean;
  session_expires_at: Date | null;
  lineage_revoked: boolean | null;
  application_id: string | null;
  client_matches: boolean;
  resource_id: string | null;
  identifier: string;
  upstream_url: string;
  operations: ResourceGrant['operations'];
  auth_placement: ResourceGrant['placement'];
  credential_sealed: Buffer | null;
  scopes: string[] | null;
  max_ttl_seconds: number;
  approval_scopes: string[];
}

/** What a mint may ask for in the same statement as the authority context. */
export interface ContextExtras {
  /** The graph above a delegated mint (migration 0018). */
  graph?: { agentSessionId: string; edgeId: string | undefined };
  /** The application's labels, for a zone with active policy sets (migration 0020). */
  labels?: boolean;
}

type ContextRow = Row & { graph?: [string, unknown][]; labels?: string[] | null };

/** What the authority view keeps of a context: the keyed function's row, as it answered. */
export type KeptContext = ContextRow;

/** What the keyed function is asked of the graph when there is none. */
const NO_GRAPH = { sessions: [] as string[], edges: [] as string[] };

/** Where a delegated mint's graph came from: read whole, or a kept shape with its state read now. */
export type GraphSource = 'store' | 'shape';

interface GraphReads {
  shapes: GraphShapes;
  counted: (source: GraphSource) => void;
}

/** Where a context without a graph came from: this process's view, or the store. */
export type ContextSource = 'view' | 'store';

interface ViewReads {
  view: AuthorityView<ContextRow>;
  counted: (source: ContextSource) => void;
}

/** A context the view may keep: everything found and nothing revoked. Any denial is read again from the store. */
const allowing = (r: ContextRow) => r.session_found && r.client_matches && r.lineage_revoked === false && r.resource_id !== null && r.scopes !== null;

async function loadContext(
  pool: Pool,
  zoneId: string,
  l: Lineage,
  resource: string,
  now: Date,
  x: ContextExtras = {},
  reads?: GraphReads,
  viewReads?: ViewReads,
): Promise<AuthorityContext & { graph?: DelegationGraph; labels?: string[] }> {
  const ids = [...new Set([l.sid, l.agentSessionId, l.delegationEdgeId, ...(l.ancestors ?? [])].filter((v): v is string => typeof v === 'string'))];
  // Without a graph, the view answers with what the store answered for the same arguments, if it still holds it.
  const viewKey = x.graph || !viewReads ? undefined : JSON.stringify([l.sid, l.clientId, resource, ids]);
  if (viewKey !== undefined) {
    const kept = viewReads!.view.get(zoneId, viewKey);
    viewReads!.counted(kept ? 'view' : 'store');
    if (kept) return contextFromRow(kept, now, x);
  }
  const mark = viewKey === undefined ? undefined : viewReads!.view.mark(zoneId);
  // One round trip whatever is asked for: each function binds the zone for the statement itself. A graph whose
  // shape this instance keeps needs only its state read, with the context in one function (migration 0021); any
  // other is read whole beside the context (migration 0018).
  const g = x.graph;
  const key = g && GraphShapes.key(zoneId, g.agentSessionId, g.edgeId);
  const shape = key === undefined ? undefined : reads?.shapes.get(key);
  // Without a graph, or with a kept shape: one keyed function (migration 0021), the labels always among its columns
  // and the shape's state asked for by id. The first mint of a chain reads its graph whole (migration 0018) beside the
  // context, with the labels as one more column when asked (migration 0020).
  const state = g ? shape?.ids : NO_GRAPH;
  const context = x.labels ? 'authority_context_labelled' : 'authority_context';
  const res = await pool.query<ContextRow>(
    state
      ? {
          name: 'caracal_authority_context_keyed',
          text: 'SELECT * FROM caracal.authority_context_keyed($1, $2, $3, $4, $5, $6, $7)',
          values: [zoneId, l.sid, l.clientId, ids, resource, state.sessions, state.edges],
        }
      : {
          name: `caracal_${context}_graph`,
          text: `SELECT ac.*, gr.graph
                   FROM caracal.${context}($1, $2, $3, $4, $5) ac
                   CROSS JOIN LATERAL (SELECT coalesce(jsonb_agg(jsonb_build_array(d.kind, d.item)), '[]'::jsonb) AS graph
                                         FROM caracal.delegation_graph($1, $6, $7) d) gr`,
          values: [zoneId, l.sid, l.clientId, ids, resource, g!.agentSessionId, g!.edgeId ?? null],
        },
  );
  const r = res.rows[0]!;
  const rows = (r.graph ?? []).map(([kind, item]) => ({ kind, item }));
  let graph: DelegationGraph | undefined;
  if (g && shape) {
    graph = graphFromState(shape, rows as StateRow[]);
    // Something of the shape is gone from the store: forget it and read the whole graph again (rare).
    if (!graph) {
      reads!.shapes.forget(key!);
      return loadContext(pool, zoneId, l, resource, now, x, reads, viewReads);
    }
    reads!.counted('shape');
  } else if (g) {
    graph = graphFrom(rows as GraphRow[], g.agentSessionId, g.edgeId);
    reads?.shapes.remember(key!, graph, g.edgeId, now.getTime());
    reads?.counted('store');
  }
  if (viewKey !== undefined && allowing(r)) viewReads!.view.put(zoneId, viewKey, r, r.session_expires_at!.getTime() - now.getTime(), mark);
  return { ...contextFromRow(r, now, x), ...(graph ? { graph } : {}) };
}

function contextFromRow(r: ContextRow, now: Date, x: ContextExtras): AuthorityContext & { labels?: string[] } {
  const rg: ResourceGrant | undefined = r.resource_id
    ? {
        resourceId: r.resource_id,
        identifier: r.identifier,
        upstreamUrl: r.upstream_url,
        operations: r.operations,
        placement: r.auth_placement,
        credentialSealed: r.credential_sealed,
        grant: r.scopes ? { scopes: r.scopes, maxTtlSeconds: r.max_ttl_seconds, approvalScopes: r.approval_scopes ?? [] } : null,
      }
    : undefined;
  let lineage: LineageResult;
  if (!r.session_found) lineage = { ok: false, reason: 'session_unknown' };
  else if (!r.client_matches) lineage = { ok: false, reason: 'lineage_mismatch' };
  else if (r.lineage_revoked) lineage = { ok: false, reason: 'lineage_revoked' };
  else if (r.session_expires_at!.getTime() <= now.getTime()) lineage = { ok: false, reason: 'session_expired' };
  else lineage = { ok: true, state: { applicationId: r.application_id!, sessionExpiresAt: r.session_expires_at! } };
  return { lineage, rg, ...(x.labels ? { labels: r.labels ?? [] } : {}) };
}

export interface AgentSessionRow {
  id: string;
  status: string;
  expires_at: Date;
  application_id: string;
  /** Its application is disabled (or missing): nothing it started or delegated authorises anything. */
  application_disabled: boolean;
}

/**
 * The server-side delegation graph above a delegated mint, as stored; the checks judge it. `chain` holds the edges
 * from the root down to (and including) the named edge, `sessions` every agent session above the mint: the agent
 * session's own parents, the source session of each chain edge and each of their parents; `revoked` which of all
 * these ids carry a revocation record.
 */
export interface DelegationGraph {
  agent?: AgentSessionRow;
  edge?: DelegationEdgeRow;
  chain: DelegationEdgeRow[];
  sessions: AgentSessionRow[];
  revoked: Set<string>;
}

export interface DelegationEdgeRow {
  id: string;
  source_session_id: string;
  target_session_id: string;
  scopes: string[];
  path: string[];
  hop_count: number;
  expires_at: Date;
  revoked_at: Date | null;
}

type GraphRow = { kind: 'session'; item: AgentSessionRow & { expires_at: string } } | { kind: 'edge'; item: DelegationEdgeRow & { expires_at: string; revoked_at: string | null } } | { kind: 'revoked'; item: string };

/** The graph above a mint from the rows of `caracal.delegation_graph` (migration 0018). */
function graphFrom(rows: readonly GraphRow[], agentSessionId: string, edgeId: string | undefined): DelegationGraph {
  const sessions: AgentSessionRow[] = [];
  const edges: DelegationEdgeRow[] = [];
  const revoked = new Set<string>();
  for (const r of rows) {
    if (r.kind === 'session') sessions.push({ ...r.item, expires_at: new Date(r.item.expires_at) });
    else if (r.kind === 'edge') edges.push({ ...r.item, expires_at: new Date(r.item.expires_at), revoked_at: r.item.revoked_at === null ? null : new Date(r.item.revoked_at) });
    else revoked.add(r.item);
  }
  const agent = sessions.find((x) => x.id === agentSessionId);
  const graph: DelegationGraph = { agent, chain: [], sessions: sessions.filter((x) => x !== agent), revoked };
  if (!agent) return { ...graph, sessions: [], revoked: new Set() };
  graph.edge = edges.find((e) => e.id === edgeId);
  if (graph.edge) graph.chain = edges.sort((a, b) => a.hop_count - b.hop_count);
  return graph;
}

export interface ClientRow {
  id: string;
  secret_hash: string;
  disabled_at: Date | null;
  labels: string[];
}

export interface AuthorityRepositoryOptions {
  /** Keeps the immutable shape of delegated mints' graphs in this instance (graph-shapes.ts); off when absent. */
  shapes?: GraphShapes;
  /** Counts each delegated mint's graph read by where it came from. */
  onGraphRead?: (source: GraphSource) => void;
  /** Keeps allowing contexts without a graph in this process (view.ts); every context is read from the store when absent. */
  view?: AuthorityView<KeptContext>;
  /** Counts each context without a graph by where it came from. */
  onContextRead?: (source: ContextSource) => void;
}

export class AuthorityRepository {
  private readonly reads: GraphReads | undefined;
  private readonly viewReads: ViewReads | undefined;

  constructor(
    private readonly pool: Pool,
    opts: AuthorityRepositoryOptions = {},
  ) {
    this.reads = opts.shapes ? { shapes: opts.shapes, counted: opts.onGraphRead ?? (() => undefined) } : undefined;
    this.viewReads = opts.view ? { view: opts.view, counted: opts.onContextRead ?? (() => undefined) } : undefined;
  }

  context(zoneId: string, lineage: Lineage, resource: string, now = new Date()): Promise<AuthorityContext> {
    return loadContext(this.pool, zoneId, lineage, resource, now, {}, undefined, this.viewReads);
  }

  /** The context and, asked for in the same round trip, the graph above a delegated mint and the application's labels. */
  async contextWith(zoneId: string, lineage: Lineage, resource: string, extras: ContextExtras, now = new Date()): Promise<{ context: AuthorityContext; graph?: DelegationGraph; labels?: string[] }> {
    const { graph, labels, ...context } = await loadContext(this.pool, zoneId, lineage, resource, now, extras, this.reads, this.viewReads);
    return { context, graph, labels };
  }

  client(zoneId: string, clientId: string): Promise<ClientRow | undefined> {
    return withZone(this.pool, zoneId, async (c) => (await c.query<ClientRow>('SELECT id, secret_hash, disabled_at, labels FROM applications WHERE client_id = $1', [clientId])).rows[0]);
  }

  /** A new authority session (R-STS-1) lasting `ttlSeconds`; returns its id. */
  createSession(zoneId: string, applicationId: string, ttlSeconds: number): Promise<string> {
    return withZone(this.pool, zoneId, async (c) =>
      (
        await c.query<{ id: string }>('INSERT INTO authority_sessions (zone_id, application_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING id', [
          zoneId,
          applicationId,
          ttlSeconds,
        ])
      ).rows[0]!.id,
    );
  }

  /** Step-up (R-STS-5): a new pending approval, or the single consumption of an approved one. */
  approval(request: ApprovalRequest): Promise<ApprovalOutcome> {
    return recordOrConsumeApproval(this.pool, request);
  }
}
