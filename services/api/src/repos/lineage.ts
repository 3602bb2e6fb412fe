// Whether a mandate's lineage still stands for the api: its authority session exists for its client, is not
// revoked, and the application is not disabled (R-STS-6). Runs inside the zone's transaction (RLS).
import type { PoolClient } from '@caracal/db';

export type Standing = 'live' | 'unknown' | 'revoked';

export async function lineageStanding(c: PoolClient, sid: string, clientId: string): Promise<Standing> {
  const res = await c.query<{ live: boolean }>(
    `SELECT s.revoked_at IS NULL AND a.disabled_at IS NULL AS live
       FROM authority_sessions s JOIN applications a ON a.id = s.application_id WHERE s.id = $1 AND a.client_id = $2`,
    [sid, clientId],
  );
  const row = res.rows[0];
  if (!row) return 'unknown';
  return row.live ? 'live' : 'revoked';
}
