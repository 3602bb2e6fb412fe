// Cutting the agent graph (R-STS-6, R-CO-1), in the caller's transaction: ending or revoking an agent session takes
// every live descendant session with it and revokes the delegations from or to any of them, and every edge
// delegated further below those; revoking an edge revokes every edge below it. Shared by the coordinator (end,
// revoke) and the API (revocations), so both cut the same subtree.
import type { PoolClient } from './pool.js';

/** Revokes the edges and every edge below them (an edge's `path` lists its ancestors); returns those it revoked. */
export async function revokeEdgeSubtrees(c: PoolClient, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const r = await c.query<{ id: string }>(
    `UPDATE delegation_edges SET revoked_at = now() WHERE revoked_at IS NULL AND (id = ANY($1::uuid[]) OR path && $1::uuid[]) RETURNING id`,
    [ids],
  );
  return r.rows.map((x) => x.id);
}

/** Ends every live descendant of `id` (not `id` itself); returns their ids. */
async function endDescendants(c: PoolClient, id: string): Promise<string[]> {
  const r = await c.query<{ id: string }>(
    `WITH RECURSIVE sub AS (
       SELECT id FROM agent_sessions WHERE parent_id = $1
       UNION ALL SELECT s.id FROM agent_sessions s JOIN sub ON s.parent_id = sub.id)
     UPDATE agent_sessions SET status = 'ended', ended_at = now()
      WHERE id IN (SELECT id FROM sub) AND status IN ('active', 'suspended') RETURNING id`,
    [id],
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
  /** The live descendant sessions ended with it. */
  descendants: string[];
  /** Every edge revoked: those from or to the cut sessions and all edges below them. */
  edges: string[];
}

/**
 * Ends the live descendants of agent session `id` and revokes the delegations of all of them (and of `id`); the
 * caller sets `id`'s own status (ended by its owner, revoked by an operator).
 */
export async function cutSessionSubtree(c: PoolClient, id: string): Promise<SessionCut> {
  const descendants = await endDescendants(c, id);
  const edges = await revokeEdgeSubtrees(c, await edgesTouching(c, [id, ...descendants]));
  return { descendants, edges };
}
