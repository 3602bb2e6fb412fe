// SQL for delegation edges (R-CO-1); every query runs inside a zone-bound transaction (RLS, R-DB-2).
import type { PoolClient } from '@caracal/db';

export interface EdgeRow {
  id: string;
  zone_id: string;
  source_session_id: string;
  target_session_id: string;
  parent_edge_id: string | null;
  scopes: string[];
  path: string[];
  hop_count: number;
  expires_at: Date;
  created_at: Date;
  accepted_at: Date | null;
  revoked_at: Date | null;
  declined_at: Date | null;
}

const COLS = 'id, zone_id, source_session_id, target_session_id, parent_edge_id, scopes, path, hop_count, expires_at, created_at, accepted_at, revoked_at, declined_at';
/** Live: accepted, not revoked, not past its expiry. */
const LIVE = 'accepted_at IS NOT NULL AND revoked_at IS NULL AND expires_at > now()';

export async function getEdge(c: PoolClient, id: string, lock = false): Promise<EdgeRow | undefined> {
  return (await c.query<EdgeRow>(`SELECT ${COLS} FROM delegation_edges WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])).rows[0];
}

/** The live edges delegated to a session: what it holds by delegation. */
export async function liveIncoming(c: PoolClient, sessionId: string): Promise<EdgeRow[]> {
  return (await c.query<EdgeRow>(`SELECT ${COLS} FROM delegation_edges WHERE target_session_id = $1 AND ${LIVE} ORDER BY created_at, id`, [sessionId])).rows;
}

/** The scopes the application's unrevoked grants give it, across every resource. */
export async function grantedScopes(c: PoolClient, applicationId: string): Promise<string[]> {
  const r = await c.query<{ scope: string }>('SELECT DISTINCT unnest(scopes) AS scope FROM grants WHERE application_id = $1 AND revoked_at IS NULL', [applicationId]);
  return r.rows.map((x) => x.scope);
}

/** Whether `from` already reaches `to` along unrevoked, unexpired edges (pending ones included): a new to→from edge would close a cycle. */
export async function reaches(c: PoolClient, from: string, to: string): Promise<boolean> {
  const r = await c.query(
    `WITH RECURSIVE reach(session) AS (
       SELECT $1::uuid
       UNION SELECT e.target_session_id FROM delegation_edges e JOIN reach ON e.source_session_id = reach.session
        WHERE e.revoked_at IS NULL AND e.expires_at > now())
     SELECT 1 FROM reach WHERE session = $2 LIMIT 1`,
    [from, to],
  );
  return r.rowCount === 1;
}

export interface NewEdge {
  zoneId: string;
  sourceId: string;
  targetId: string;
  parent: EdgeRow | null;
  scopes: string[];
  expiresAt: Date;
  accepted: boolean;
}

export async function insertEdge(c: PoolClient, e: NewEdge): Promise<EdgeRow> {
  const path = e.parent ? [...e.parent.path, e.parent.id] : [];
  const r = await c.query<EdgeRow>(
    `INSERT INTO delegation_edges (zone_id, source_session_id, target_session_id, parent_edge_id, scopes, path, hop_count, expires_at, accepted_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9 THEN now() END) RETURNING ${COLS}`,
    [e.zoneId, e.sourceId, e.targetId, e.parent?.id ?? null, e.scopes, path, e.parent ? e.parent.hop_count + 1 : 1, e.expiresAt, e.accepted],
  );
  return r.rows[0]!;
}

export async function markAccepted(c: PoolClient, id: string): Promise<EdgeRow> {
  return (await c.query<EdgeRow>(`UPDATE delegation_edges SET accepted_at = now() WHERE id = $1 RETURNING ${COLS}`, [id])).rows[0]!;
}

/** The chain from the root edge down to (and including) this edge. */
export async function chainOf(c: PoolClient, e: EdgeRow): Promise<EdgeRow[]> {
  return (await c.query<EdgeRow>(`SELECT ${COLS} FROM delegation_edges WHERE id = ANY($1::uuid[]) ORDER BY hop_count`, [[...e.path, e.id]])).rows;
}

/** Every edge below this one, nearer first. */
export async function descendantsOf(c: PoolClient, id: string): Promise<EdgeRow[]> {
  return (await c.query<EdgeRow>(`SELECT ${COLS} FROM delegation_edges WHERE path && ARRAY[$1::uuid] ORDER BY hop_count, created_at, id`, [id])).rows;
}

/** An edge a mandate may see: its source or its target session is of the mandate's application. */
const SEEN_BY = (param: string) =>
  `(${param}::uuid IS NULL OR EXISTS (SELECT 1 FROM agent_sessions s WHERE s.id IN (e.source_session_id, e.target_session_id) AND s.application_id = ${param}))`;

export interface EdgeFilter {
  sessionId?: string;
  /** Only edges from or to this application's sessions (a mandate's reads); null or absent: the whole zone. */
  applicationId?: string | null;
  /** Pages after this edge (its created_at, id). */
  afterId?: string;
  limit: number;
}

export async function listEdges(c: PoolClient, f: EdgeFilter): Promise<EdgeRow[]> {
  const r = await c.query<EdgeRow>(
    `SELECT ${COLS} FROM delegation_edges e
      WHERE ($1::uuid IS NULL OR source_session_id = $1 OR target_session_id = $1) AND ${SEEN_BY('$4')}
        AND ($3::uuid IS NULL OR (created_at, id) > (SELECT a.created_at, a.id FROM delegation_edges a WHERE a.id = $3))
      ORDER BY created_at, id LIMIT $2`,
    [f.sessionId ?? null, f.limit, f.afterId ?? null, f.applicationId ?? null],
  );
  return r.rows;
}

/** The ids among `ids` of edges the application may see (from or to one of its sessions); null: all of them that exist. */
export async function edgesVisibleTo(c: PoolClient, ids: readonly string[], applicationId: string | null): Promise<Set<string>> {
  const r = await c.query<{ id: string }>(`SELECT e.id FROM delegation_edges e WHERE e.id = ANY($1::uuid[]) AND ${SEEN_BY('$2')}`, [ids, applicationId]);
  return new Set(r.rows.map((x) => x.id));
}

/** Declines a pending edge: marked declined and revoked at once, so nothing that honours only live edges ever uses it. */
export async function markDeclined(c: PoolClient, id: string): Promise<EdgeRow> {
  return (await c.query<EdgeRow>(`UPDATE delegation_edges SET declined_at = now(), revoked_at = now() WHERE id = $1 RETURNING ${COLS}`, [id])).rows[0]!;
}
