// Lineage checks (R-STS-6): a mandate is only as good as the session, application, agent session and delegation
// edge it descends from. One query; a revoked or expired link anywhere denies.
import type { PoolClient } from '@caracal/db';

export interface Lineage {
  sid: string;
  applicationId?: string;
  clientId: string;
  agentSessionId?: string;
  delegationEdgeId?: string;
}

export interface LineageState {
  applicationId: string;
  sessionExpiresAt: Date;
}

export async function checkLineage(c: PoolClient, l: Lineage, now = new Date()): Promise<{ ok: true; state: LineageState } | { ok: false; reason: string }> {
  const ids = [l.sid, l.agentSessionId, l.delegationEdgeId].filter((x): x is string => typeof x === 'string');
  const res = await c.query<{ expires_at: Date; revoked_at: Date | null; application_id: string; disabled_at: Date | null; client_id: string; revoked: boolean }>(
    `SELECT s.expires_at, s.revoked_at, s.application_id, a.disabled_at, a.client_id,
            EXISTS (SELECT 1 FROM revocations r WHERE r.target_id = ANY($2::uuid[]) OR r.target_id = s.application_id) AS revoked
       FROM authority_sessions s JOIN applications a ON a.id = s.application_id
      WHERE s.id = $1`,
    [l.sid, ids],
  );
  const row = res.rows[0];
  if (!row) return { ok: false, reason: 'session_unknown' };
  if (row.client_id !== l.clientId || (l.applicationId && row.application_id !== l.applicationId)) return { ok: false, reason: 'lineage_mismatch' };
  if (row.revoked || row.revoked_at || row.disabled_at) return { ok: false, reason: 'lineage_revoked' };
  if (row.expires_at.getTime() <= now.getTime()) return { ok: false, reason: 'session_expired' };
  return { ok: true, state: { applicationId: row.application_id, sessionExpiresAt: row.expires_at } };
}
