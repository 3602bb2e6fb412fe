// Every chain head the audit service published, kept in Postgres as well (R-AUD-3, migration 0012): the highest one
// is a floor the Redis head may never fall below, so deleting the head key together with the newest rows, or
// restoring an older signed head, is a break. A mark is recorded only after its head reached Redis, so in an
// untouched system the Redis head is never behind the highest mark.
import type { Redis } from 'ioredis';
import { withZone, type Pool } from '@caracal/db';
import type { StreamKeys } from '@caracal/streams';
import { publishHead, type ChainHead } from './chain-head.js';

export async function recordHeadMark(pool: Pool, head: ChainHead): Promise<void> {
  await withZone(pool, head.zone_id, (c) =>
    c.query('INSERT INTO audit_chain_heads (zone_id, seq, content_sha256, published_at, sig) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [
      head.zone_id,
      String(head.seq),
      head.content_sha256,
      head.published_at,
      head.sig,
    ]),
  );
}

/** The highest head recorded for the zone, as signed; null when none was ever recorded. */
export async function readHeadMark(pool: Pool, zoneId: string): Promise<ChainHead | null> {
  const res = await withZone(pool, zoneId, (c) =>
    c.query<{ seq: string; content_sha256: string; published_at: string; sig: string }>(
      'SELECT seq, content_sha256, published_at, sig FROM audit_chain_heads WHERE zone_id = $1 ORDER BY seq DESC LIMIT 1',
      [zoneId],
    ),
  );
  const m = res.rows[0];
  return m ? { zone_id: zoneId, seq: Number(m.seq), content_sha256: m.content_sha256, published_at: m.published_at, sig: m.sig } : null;
}

/** Publishes a signed head to Redis, then records it as a mark: never the other way round (see above). */
export async function publishChainHead(redis: Redis, keys: StreamKeys, pool: Pool, head: ChainHead): Promise<void> {
  await publishHead(redis, keys, head);
  await recordHeadMark(pool, head);
}
