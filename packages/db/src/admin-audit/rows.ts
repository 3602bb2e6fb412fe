// Reading the admin audit chain back (R-AUD-5): the stored columns as text, in chain order, a page at a time.
import type { PoolClient } from '../pool.js';

export interface AdminAuditRow {
  seq: number;
  id: string;
  occurred_at: string;
  actor: string;
  action: string;
  zone_id: string | null;
  target: string | null;
  request_id: string | null;
  detail: unknown;
  /** The JSON text the content hash covers; null for rows written before migration 0011. */
  detail_text: string | null;
  content_sha256: string;
  prev_content_sha256: string;
  chain_hmac: string;
}

export interface AdminAuditFilter {
  /** Inclusive lower bound on occurred_at. */
  from?: Date | null;
  /** Exclusive upper bound on occurred_at. */
  to?: Date | null;
  action?: string | null;
  zoneId?: string | null;
}

// occurred_at in the exact form it was hashed: UTC, milliseconds, `Z` (Date#toISOString at append). `seq` is selected
// as text, so the ORDER BY names the table's column: the text alias would sort 10 before 2.
const COLUMNS = `seq::int8::text AS seq, id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at,
  actor, action, zone_id, target, request_id, detail, detail_text, content_sha256, prev_content_sha256, chain_hmac`;

/** Up to `limit` rows with seq > `afterSeq` matching the filter, plus whether more follow. */
export async function readAdminAudit(c: PoolClient, afterSeq: number, limit: number, f: AdminAuditFilter = {}): Promise<{ rows: AdminAuditRow[]; more: boolean }> {
  const res = await c.query<Omit<AdminAuditRow, 'seq'> & { seq: string }>(
    `SELECT ${COLUMNS} FROM admin_audit_events
      WHERE seq > $1
        AND ($2::timestamptz IS NULL OR occurred_at >= $2)
        AND ($3::timestamptz IS NULL OR occurred_at < $3)
        AND ($4::text IS NULL OR action = $4)
        AND ($5::uuid IS NULL OR zone_id = $5)
      ORDER BY admin_audit_events.seq LIMIT $6`,
    [afterSeq, f.from?.toISOString() ?? null, f.to?.toISOString() ?? null, f.action ?? null, f.zoneId ?? null, limit + 1],
  );
  const rows = res.rows.slice(0, limit).map((r) => ({ ...r, seq: Number(r.seq) }));
  return { rows, more: res.rows.length > limit };
}
