// Admin audit (R-AUD-5): one installation-wide hash chain, appended inside the mutation's own transaction so
// nothing is reported as done unless its audit row committed with it.
import { chainHmac, GENESIS, sha256Fields } from '../chain.js';
import type { PoolClient } from '../pool.js';

export interface AdminAuditEvent {
  actor: string;
  action: string;
  zoneId?: string | null;
  target?: string | null;
  requestId?: string | null;
  detail?: Record<string, unknown>;
}

/** Serialises appends across the whole installation; distinct from the migration lock. */
export const ADMIN_AUDIT_LOCK_KEY = 0x61647574; // "adut"

/** The content hash over the row's fields; `detailText` is the detail's JSON exactly as stored in detail_text. */
export function adminContentSha256(seq: number, occurredAt: string, e: AdminAuditEvent, detailText = JSON.stringify(e.detail ?? {})): string {
  const fields = [String(seq), occurredAt, e.actor, e.action, e.zoneId ?? '', e.target ?? '', e.requestId ?? '', detailText];
  return sha256Fields(fields);
}

export const adminChainHmac = (key: string, content: string, prev: string): string => chainHmac(key, content, prev);

export async function appendAdminAudit(client: PoolClient, hmacKey: string, e: AdminAuditEvent): Promise<{ seq: number; contentSha256: string }> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_AUDIT_LOCK_KEY]);
  const head = await client.query<{ seq: string; content_sha256: string }>('SELECT seq, content_sha256 FROM admin_audit_events ORDER BY seq DESC LIMIT 1');
  const seq = head.rows[0] ? Number(head.rows[0].seq) + 1 : 1;
  const prev = head.rows[0]?.content_sha256 ?? GENESIS;
  const occurredAt = new Date().toISOString();
  const detailText = JSON.stringify(e.detail ?? {});
  const content = adminContentSha256(seq, occurredAt, e, detailText);
  // detail_text keeps the hashed text: the jsonb copy reorders keys (migration 0011).
  await client.query(
    `INSERT INTO admin_audit_events (seq, occurred_at, actor, action, zone_id, target, request_id, detail, detail_text, content_sha256, prev_content_sha256, chain_hmac)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [seq, occurredAt, e.actor, e.action, e.zoneId ?? null, e.target ?? null, e.requestId ?? null, detailText, detailText, content, prev, adminChainHmac(hmacKey, content, prev)],
  );
  return { seq, contentSha256: content };
}
