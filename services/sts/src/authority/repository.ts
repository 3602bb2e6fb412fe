// The authority's reads and the one session write, and nothing else touches these tables from the STS (STYLE 8).
// `context` reads everything a decision needs in one round trip (migration 0007): the lineage of the presented
// mandate (session, application, revocations of any link) and the application's grant on the resource; `delegation`
// reads, in the same round trip, the graph above a delegated mint (migration 0018).
import { withZone, type Pool } from '@caracal/db';
import type { DenyReason } from '@caracal/deny-reasons';
import { recordOrConsumeApproval, type ApprovalOutcome, type ApprovalRequest } from './approvals.js';
import type { ResourceGrant } from './resource-grant.js';

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

/** The graph above a delegated mint, asked for in the same statement as the authority context. */
interface GraphQuery {
  agentSessionId: string;
  edgeId: string | undefined;
}

async function loadContext(pool: Pool, zoneId: string, l: Lineage, resource: string, now: Date, g?: GraphQuery): Promise<AuthorityContext & { graph?: DelegationGraph }> {
  const ids = [...new Set([l.sid, l.agentSessionId, l.delegationEdgeId, ...(l.ancestors ?? [])].filter((x): x is string => typeof x === 'string'))];
  const res = g
    ? await pool.query<Row & { graph: [GraphRow['kind'], unknown][] }>({
        // One round trip for both (migrations 0007 and 0018): each function binds the zone for the statement.
        name: 'caracal_authority_context_graph',
        text: `SELECT ac.*, gr.graph FROM caracal.authority_context($1, $2, $3, $4, $5) ac
                CROSS JOIN LATERAL (SELECT coalesce(jsonb_agg(jsonb_build_array(d.kind, d.item)), '[]'::jsonb) AS graph
                                      FROM caracal.delegation_graph($1, $6, $7) d) gr`,
        values: [zoneId, l.sid, l.clientId, ids, resource, g.agentSessionId, g.edgeId ?? null],
      })
    : await pool.query<Row>({ name: 'caracal_authority_context', text: 'SELECT * FROM caracal.authority_context($1, $2, $3, $4, $5)', values: [zoneId, l.sid, l.clientId, ids, resource] });
  const r = res.rows[0]!;
  const graph = g ? graphFrom(((r as Row & { graph: [GraphRow['kind'], unknown][] }).graph).map(([kind, item]) => ({ kind, item }) as GraphRow), g.agentSessionId, g.edgeId) : undefined;
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
  return { lineage, rg, ...(graph ? { graph } : {}) };
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

export class AuthorityRepository {
  constructor(private readonly pool: Pool) {}

  context(zoneId: string, lineage: Lineage, resource: string, now = new Date()): Promise<AuthorityContext> {
    return loadContext(this.pool, zoneId, lineage, resource, now);
  }

  /** The context, and the agent session, (when named) the delegation edge and everything above both, as stored. */
  async contextWithGraph(zoneId: string, lineage: Lineage, resource: string, agentSessionId: string, edgeId: string | undefined, now = new Date()): Promise<{ context: AuthorityContext; graph: DelegationGraph }> {
    const { graph, ...context } = await loadContext(this.pool, zoneId, lineage, resource, now, { agentSessionId, edgeId });
    return { context, graph: graph! };
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
