// Revocations (R-STS-6): durable rows first; the stream message is only the fast path.
import { recordRevocations, type PoolClient, type RecordedRevocation, type RevocationRow, type RevocationTarget } from '@caracal/db';

export type { RevocationRow, RevocationTarget };

/** Idempotent: revoking twice keeps the first record. Returns the record and whether it was new. */
export async function insertRevocation(c: PoolClient, zoneId: string, type: RevocationTarget, targetId: string, reason: string | null, by: string): Promise<RecordedRevocation> {
  return (await recordRevocations(c, zoneId, [{ type, id: targetId }], reason, by))[0]!;
}

/** Marks the revoked object itself, where it has a column for it. Returns false when the target does not exist. */
export async function markRevoked(c: PoolClient, type: RevocationTarget, targetId: string): Promise<boolean> {
  const sql: Record<RevocationTarget, string> = {
    authority_session: 'UPDATE authority_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1',
    agent_session: "UPDATE agent_sessions SET status = 'revoked', ended_at = coalesce(ended_at, now()) WHERE id = $1",
    delegation_edge: 'UPDATE delegation_edges SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1',
    application: 'UPDATE applications SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1',
  };
  const res = await c.query(sql[type], [targetId]);
  return (res.rowCount ?? 0) > 0;
}

export async function listRevocations(c: PoolClient, limit: number): Promise<RevocationRow[]> {
  return (await c.query<RevocationRow>('SELECT id, zone_id, target_type, target_id, reason, revoked_by, revoked_at FROM revocations ORDER BY revoked_at DESC LIMIT $1', [limit])).rows;
}
