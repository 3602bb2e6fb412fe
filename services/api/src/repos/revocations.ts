// Revocations (R-STS-6): durable rows first; the stream message is only the fast path.
import { cutSessionSubtree, lockAgentGraph, recordRevocations, revokeEdgeSubtrees, type PoolClient, type RecordedRevocation, type RevocationRow, type RevocationTarget } from '@caracal/db';

export type { RevocationRow, RevocationTarget };

/**
 * Records the target's revocation and one for each agent session ended with it (a mandate names its own agent
 * session, not the ones above it). Idempotent: revoking twice keeps the first record. Returns the target's record
 * (and whether it was new) and every record written or found.
 */
export async function insertRevocation(
  c: PoolClient,
  zoneId: string,
  type: RevocationTarget,
  targetId: string,
  endedSessions: readonly string[],
  reason: string | null,
  by: string,
): Promise<RecordedRevocation & { all: RevocationRow[] }> {
  const targets = [{ type, id: targetId }, ...endedSessions.map((id) => ({ type: 'agent_session' as const, id }))];
  const records = await recordRevocations(c, zoneId, targets, reason, by);
  const own = records.find((r) => r.row.target_type === type && r.row.target_id === targetId)!;
  return { ...own, all: records.map((r) => r.row) };
}

/** What a revocation cut below its target: agent sessions ended with it, delegations revoked with it. */
export interface Cut {
  sessions: string[];
  delegations: string[];
}

/**
 * Marks the revoked object itself, where it has a column for it, and cuts the agent graph below it as the
 * coordinator does: an agent session's live descendants end, and the delegations from or to any of them go with
 * every edge below; an edge's descendants are revoked. Undefined when the target does not exist.
 */
export async function markRevoked(c: PoolClient, type: RevocationTarget, targetId: string): Promise<Cut | undefined> {
  if (type !== 'authority_session') await lockAgentGraph(c);
  const sql: Record<RevocationTarget, string> = {
    authority_session: 'UPDATE authority_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1',
    agent_session: "UPDATE agent_sessions SET status = 'revoked', ended_at = coalesce(ended_at, now()) WHERE id = $1",
    delegation_edge: 'UPDATE delegation_edges SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1',
    application: 'UPDATE applications SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1',
  };
  const res = await c.query(sql[type], [targetId]);
  if ((res.rowCount ?? 0) === 0) return undefined;
  if (type === 'agent_session') {
    const cut = await cutSessionSubtree(c, targetId);
    return { sessions: cut.descendants, delegations: cut.edges };
  }
  if (type === 'delegation_edge') return { sessions: [], delegations: (await revokeEdgeSubtrees(c, [targetId])).filter((id) => id !== targetId) };
  return { sessions: [], delegations: [] };
}

export async function listRevocations(c: PoolClient, limit: number): Promise<RevocationRow[]> {
  return (await c.query<RevocationRow>('SELECT id, zone_id, target_type, target_id, reason, revoked_by, revoked_at FROM revocations ORDER BY revoked_at DESC LIMIT $1', [limit])).rows;
}
