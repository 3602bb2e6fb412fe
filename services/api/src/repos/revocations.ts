// Revocations (R-STS-6): durable rows first; the stream message is only the fast path.
import type { PoolClient } from '@caracal/db';

export type RevocationTarget = 'authority_session' | 'agent_session' | 'delegation_edge' | 'application';

export interface RevocationRow {
  id: string;
  zone_id: string;
  target_type: RevocationTarget;
  target_id: string;
  reason: string | null;
  revoked_by: string;
  revoked_at: Date;
}

const COLS = 'id, zone_id, target_type, target_id, reason, revoked_by, revoked_at';

/** Idempotent: revoking twice keeps the first record. Returns the record and whether it was new. */
export async function insertRevocation(c: PoolClient, zoneId: string, type: RevocationTarget, targetId: string, reason: string | null, by: string) {
  const ins = await c.query<RevocationRow>(
    `INSERT INTO revocations (zone_id, target_type, target_id, reason, revoked_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (zone_id, target_type, target_id) DO NOTHING RETURNING ${COLS}`,
    [zoneId, type, targetId, reason, by],
  );
  if (ins.rows[0]) return { row: ins.rows[0], created: true };
  const existing = await c.query<RevocationRow>(`SELECT ${COLS} FROM revocations WHERE zone_id = $1 AND target_type = $2 AND target_id = $3`, [zoneId, type, targetId]);
  return { row: existing.rows[0]!, created: false };
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
  return (await c.query<RevocationRow>(`SELECT ${COLS} FROM revocations ORDER BY revoked_at DESC LIMIT $1`, [limit])).rows;
}
