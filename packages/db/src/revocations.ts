// Revocation records (R-STS-6): durable rows first, written in the transaction of the change they record; the stream
// message that announces them is only the fast path. Shared by the API and the coordinator.
import type { PoolClient } from './pool.js';

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

export interface RecordedRevocation {
  row: RevocationRow;
  /** False when the target was revoked before: its first record is kept. */
  created: boolean;
}

const COLS = 'id, zone_id, target_type, target_id, reason, revoked_by, revoked_at';

/** Records the targets' revocation in one statement; idempotent per target. Returns each record, in no set order. */
export async function recordRevocations(
  c: PoolClient,
  zoneId: string,
  targets: ReadonlyArray<{ type: RevocationTarget; id: string }>,
  reason: string | null,
  by: string,
): Promise<RecordedRevocation[]> {
  if (targets.length === 0) return [];
  // The second SELECT reads the snapshot from before the INSERT: it finds exactly the records that already existed.
  const r = await c.query<RevocationRow & { created: boolean }>(
    `WITH t AS (SELECT DISTINCT * FROM unnest($2::text[], $3::uuid[]) AS t(target_type, target_id)),
          ins AS (INSERT INTO revocations (zone_id, target_type, target_id, reason, revoked_by)
                  SELECT $1, target_type, target_id, $4, $5 FROM t
                  ON CONFLICT (zone_id, target_type, target_id) DO NOTHING RETURNING ${COLS})
     SELECT ${COLS}, true AS created FROM ins
     UNION ALL SELECT ${COLS.split(', ').map((k) => `r.${k}`).join(', ')}, false FROM revocations r JOIN t USING (target_type, target_id) WHERE r.zone_id = $1`,
    [zoneId, targets.map((x) => x.type), targets.map((x) => x.id), reason, by],
  );
  const out = r.rows.map(({ created, ...row }) => ({ row: row as RevocationRow, created }));
  // A record a concurrent transaction committed after this statement's snapshot is read by a statement of its own.
  const seen = new Set(out.map((x) => `${x.row.target_type}:${x.row.target_id}`));
  const late = targets.filter((x) => !seen.has(`${x.type}:${x.id}`));
  if (late.length > 0) {
    const more = await c.query<RevocationRow>(
      `SELECT ${COLS} FROM revocations WHERE zone_id = $1 AND (target_type, target_id) IN (SELECT * FROM unnest($2::text[], $3::uuid[]))`,
      [zoneId, late.map((x) => x.type), late.map((x) => x.id)],
    );
    out.push(...more.rows.map((row) => ({ row, created: false })));
  }
  return out;
}
