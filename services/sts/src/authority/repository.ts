// The authority's reads and the one session write, and nothing else touches these tables from the STS (STYLE 8).
// `context` reads everything a decision needs in one round trip (migration 0007): the lineage of the presented
// mandate (session, application, revocations of any link) and the application's grant on the resource.
import { withZone, type Pool, type PoolClient } from '@caracal/db';
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

async function loadContext(pool: Pool, zoneId: string, l: Lineage, resource: string, now: Date): Promise<AuthorityContext> {
  const ids = [...new Set([l.sid, l.agentSessionId, l.delegationEdgeId, ...(l.ancestors ?? [])].filter((x): x is string => typeof x === 'string'))];
  const res = await pool.query<Row>({
    name: 'caracal_authority_context',
    text: 'SELECT * FROM caracal.authority_context($1, $2, $3, $4, $5)',
    values: [zoneId, l.sid, l.clientId, ids, resource],
  });
  const r = res.rows[0]!;
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
  return { lineage, rg };
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

/**
 * The sessions and every session above them up to their roots (depth is bounded by the coordinator; 11 levels is a
 * backstop), each with whether its application is disabled; level 0 for the sessions named.
 */
async function sessionsUp(c: PoolClient, ids: readonly string[]): Promise<(AgentSessionRow & { level: number })[]> {
  if (ids.length === 0) return [];
  const r = await c.query<AgentSessionRow & { level: number }>(
    `WITH RECURSIVE up AS (
       SELECT id, status, expires_at, application_id, parent_id, 0 AS level FROM agent_sessions WHERE id = ANY ($1::uuid[])
       UNION SELECT s.id, s.status, s.expires_at, s.application_id, s.parent_id, up.level + 1 FROM agent_sessions s JOIN up ON s.id = up.parent_id WHERE up.level < 11)
     SELECT DISTINCT ON (up.id) up.id, up.status, up.expires_at, up.application_id, (a.id IS NULL OR a.disabled_at IS NOT NULL) AS application_disabled, up.level
       FROM up LEFT JOIN applications a ON a.id = up.application_id ORDER BY up.id, up.level`,
    [ids],
  );
  return r.rows;
}

const EDGE_COLS = 'id, source_session_id, target_session_id, scopes, path, hop_count, expires_at, revoked_at';

async function readGraph(c: PoolClient, agentSessionId: string, edgeId: string | undefined): Promise<DelegationGraph> {
  // The agent session, then every session above it.
  const up = await sessionsUp(c, [agentSessionId]);
  const agent = up.find((x) => x.id === agentSessionId && x.level === 0);
  const graph: DelegationGraph = { agent, chain: [], sessions: up.filter((x) => x !== agent), revoked: new Set() };
  if (!agent) return graph;
  if (edgeId) {
    // The edge and every edge its path names, root first. An edge awaiting the target application's consent
    // (accepted_at NULL, R-CO-1) authorises nothing: it reads as unknown, and so does a chain with one.
    const edges = await c.query<DelegationEdgeRow>(
      `SELECT ${EDGE_COLS} FROM delegation_edges
        WHERE accepted_at IS NOT NULL AND (id = $1 OR id = ANY (SELECT unnest(path) FROM delegation_edges WHERE id = $1))
        ORDER BY hop_count`,
      [edgeId],
    );
    graph.edge = edges.rows.find((e) => e.id === edgeId);
    if (graph.edge) graph.chain = edges.rows;
    // The source session of every edge of the chain, and every session above each of them.
    const known = new Set([agent.id, ...graph.sessions.map((x) => x.id)]);
    graph.sessions.push(...(await sessionsUp(c, graph.chain.map((e) => e.source_session_id))).filter((x) => !known.has(x.id)));
  }
  const ids = [agent.id, ...graph.sessions.map((x) => x.id), ...graph.chain.map((e) => e.id)];
  const revoked = await c.query<{ target_id: string }>('SELECT target_id FROM revocations WHERE target_id = ANY ($1::uuid[])', [ids]);
  graph.revoked = new Set(revoked.rows.map((r) => r.target_id));
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

  /** The agent session, (when named) the delegation edge, and everything above both, as stored. */
  delegation(zoneId: string, agentSessionId: string, edgeId: string | undefined): Promise<DelegationGraph> {
    return withZone(this.pool, zoneId, (c) => readGraph(c, agentSessionId, edgeId));
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
