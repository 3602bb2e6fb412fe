// Cutting the agent graph (R-STS-6, R-CO-1), in the caller's transaction: ending or revoking an agent session takes
// every live descendant session with it and revokes the delegations from or to any of them, and every edge
// delegated further below those; revoking an edge revokes every edge below it. Shared by the coordinator (end,
// revoke) and the API (revocations), so both cut the same subtree.
import type { PoolClient } from './pool.js';

/**
 * Serialises the changes to the agent graph of the transaction's zone (starts under a parent, delegations, cuts).
 * Taken first, before any row of the graph is read or locked: a cut then never misses a session or edge created
 * under it meanwhile, and two overlapping cuts never deadlock. The cuts below expect their caller to hold it.
 */
export async function lockAgentGraph(c: PoolClient): Promise<void> {
  const zone = (await c.query<{ z: string | null }>('SELECT caracal.current_zone_id() AS z')).rows[0]?.z;
  if (!zone) throw new Error('lockAgentGraph: the transaction is bound to no zone');
  await c.query("SELECT pg_advisory_xact_lock(hashtextextended('caracal:delegations:' || $1, 0))", [zone]);
}

/** Revokes the edges and every edge below them (an edge's `path` lists its ancestors); returns those it revoked. */
export async function revokeEdgeSubtrees(c: PoolClient, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const r = await c.query<{ id: string }>(
    `UPDATE delegation_edges SET revoked_at = now() WHERE revoked_at IS NULL AND (id = ANY($1::uuid[]) OR path && $1::uuid[]) RETURNING id`,
    [ids],
  );
  return r.rows.map((x) => x.id);
}

/** Ends every live descendant of the sessions (the sessions themselves excepted); returns their ids. */
async function endDescendants(c: PoolClient, ids: readonly string[]): Promise<string[]> {
  const r = await c.query<{ id: string }>(
    `WITH RECURSIVE sub AS (
       SELECT id FROM agent_sessions WHERE parent_id = ANY($1::uuid[])
       UNION SELECT s.id FROM agent_sessions s JOIN sub ON s.parent_id = sub.id)
     UPDATE agent_sessions SET status = 'ended', ended_at = now()
      WHERE id IN (SELECT id FROM sub) AND NOT id = ANY($1::uuid[]) AND status IN ('active', 'suspended') RETURNING id`,
    [ids],
  );
  return r.rows.map((x) => x.id);
}

async function edgesTouching(c: PoolClient, sessionIds: readonly string[]): Promise<string[]> {
  const r = await c.query<{ id: string }>(
    'SELECT id FROM delegation_edges WHERE revoked_at IS NULL AND (source_session_id = ANY($1::uuid[]) OR target_session_id = ANY($1::uuid[]))',
    [sessionIds],
  );
  return r.rows.map((x) => x.id);
}

export interface SessionCut {
  /** The live descendant sessions ended with them. */
  descendants: string[];
  /** Every edge revoked: those from or to the cut sessions and all edges below them. */
  edges: string[];
}

/**
 * Ends the live descendants of the agent sessions and revokes the delegations of all of them; the caller sets the
 * sessions' own status (ended by their owner, revoked by an operator) and holds lockAgentGraph.
 */
export async function cutSessions(c: PoolClient, ids: readonly string[]): Promise<SessionCut> {
  if (ids.length === 0) return { descendants: [], edges: [] };
  const descendants = await endDescendants(c, ids);
  const edges = await revokeEdgeSubtrees(c, await edgesTouching(c, [...ids, ...descendants]));
  return { descendants, edges };
}

export const cutSessionSubtree = (c: PoolClient, id: string): Promise<SessionCut> => cutSessions(c, [id]);

/**
 * A disabled application's live agent sessions are revoked with everything below them: what it delegated dies with
 * it. Returns every session revoked or ended (its own first) and every edge revoked. Expects lockAgentGraph held.
 */
export async function cutApplicationSessions(c: PoolClient, applicationId: string): Promise<{ sessions: string[]; edges: string[] }> {
  const own = (
    await c.query<{ id: string }>(
      "UPDATE agent_sessions SET status = 'revoked', ended_at = coalesce(ended_at, now()) WHERE application_id = $1 AND status IN ('active', 'suspended') RETURNING id",
      [applicationId],
    )
  ).rows.map((r) => r.id);
  const cut = await cutSessions(c, own);
  return { sessions: [...own, ...cut.descendants], edges: cut.edges };
}
