// What the audit checks read about the zones before their rows (R-AUD-3): every zone there is (the zones table
// and any zone id found in the ledger), and per zone the recorded head mark, the published head in Redis, the
// retention anchor with its signed mark, and the last sequence (to plan the work). Schema-qualified: the owner
// connection has no search_path set to caracal.
import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withZone, type Pool } from '@caracal/db';
import { anchorVouched, headSignatureValid, readHead, type ChainAnchor, type ChainHead } from '@caracal/ledger';
import { StreamKeys } from '@caracal/streams';
import type { ZoneJob } from './audit-zone-scan.js';

export interface ZoneRef {
  zone_id: string;
  slug: string | null;
}

// A loose index scan over the ledger's primary key: one probe per zone, not a pass over every row.
export const ZONES_SQL = `SELECT id::text AS zone_id, slug FROM caracal.zones
  UNION SELECT z.zone_id::text, NULL FROM (
    WITH RECURSIVE l AS (
      (SELECT zone_id FROM caracal.audit_events ORDER BY zone_id LIMIT 1)
      UNION ALL SELECT (SELECT a.zone_id FROM caracal.audit_events a WHERE a.zone_id > l.zone_id ORDER BY a.zone_id LIMIT 1) FROM l WHERE l.zone_id IS NOT NULL)
    SELECT zone_id FROM l WHERE zone_id IS NOT NULL) z
  WHERE z.zone_id NOT IN (SELECT id FROM caracal.zones)
  ORDER BY 1`;

export const MARK_SQL = 'SELECT seq::text, content_sha256, published_at, sig FROM caracal.audit_chain_heads WHERE zone_id = $1 ORDER BY seq DESC LIMIT 1';
export const ANCHOR_SQL = 'SELECT through_seq::text, content_sha256 FROM caracal.audit_chain_anchors WHERE zone_id = $1 ORDER BY through_seq DESC LIMIT 1';
export const LAST_SEQ_SQL = 'SELECT max(chain_seq)::text AS last FROM caracal.audit_events WHERE zone_id = $1';

/** Every zone, by id; the ledger's own zone ids included so a zone deleted from `zones` is still verified. */
export async function listZones(db: Pool): Promise<ZoneRef[]> {
  return (await db.query<ZoneRef>(ZONES_SQL)).rows;
}

/** The job for one zone, plus its last sequence; `keys` is unprefixed because the evidence Redis applies the prefix. */
export async function readZoneJob(db: Pool, redis: Redis, key: KeyObject, zoneId: string, watchSeq: number | null): Promise<ZoneJob & { lastSeq: number }> {
  const keys = new StreamKeys('');
  // The mark, then the head, then the rows (as the ledger's verifyZone): each is written after the one read after it.
  const m = (await withZone(db, zoneId, (c) => c.query<{ seq: string; content_sha256: string; published_at: string; sig: string }>(MARK_SQL, [zoneId]))).rows[0];
  const mark: ChainHead | null = m ? { zone_id: zoneId, seq: Number(m.seq), content_sha256: m.content_sha256, published_at: m.published_at, sig: m.sig } : null;
  const head = await readHead(redis, keys, zoneId);
  const [a, last] = await withZone(db, zoneId, async (c) => [
    (await c.query<{ through_seq: string; content_sha256: string }>(ANCHOR_SQL, [zoneId])).rows[0],
    (await c.query<{ last: string | null }>(LAST_SEQ_SQL, [zoneId])).rows[0]?.last ?? null,
  ] as const);
  const anchor: ChainAnchor | null = a ? { through_seq: Number(a.through_seq), content_sha256: a.content_sha256 } : null;
  const anchorMark = anchor ? await readHead(redis, keys, zoneId, 'anchor') : null;
  return {
    zoneId,
    anchor,
    head,
    headValid: head ? headSignatureValid(key, head) : true,
    anchorVouched: anchorVouched(key, anchor, anchorMark),
    mark,
    watchSeq,
    lastSeq: last === null ? 0 : Number(last),
  };
}
