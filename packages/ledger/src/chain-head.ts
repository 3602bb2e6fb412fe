// Signed chain marks kept outside the table (R-AUD-3). The head: after each commit the audit service signs
// (zone, seq, content_sha256) and stores it in Redis, so deleting the newest rows of a zone cannot go unnoticed.
// The anchor: before retention drops a month, the last row of each zone in it is signed the same way, so an anchor
// row in the database cannot be forged to hide the oldest rows. Marks only ever move forward, even when two
// replicas publish out of order.
import { createHash, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { StreamKeys } from '@caracal/streams';

export interface ChainHead {
  zone_id: string;
  seq: number;
  content_sha256: string;
  published_at: string;
  sig: string;
}

export type MarkKind = 'head' | 'anchor';

export const headKey = (keys: StreamKeys, zoneId: string, kind: MarkKind = 'head') => keys.key(`caracal.audit.${kind}.${zoneId}`);

// The kind is signed too: a head can never be passed off as an anchor or the other way round.
function headMac(key: KeyObject, h: Omit<ChainHead, 'sig'>, kind: MarkKind): string {
  return createHmac('sha256', key).update(`caracal.audit.${kind}\n${h.zone_id}\n${h.seq}\n${h.content_sha256}\n${h.published_at}`).digest('hex');
}

export function signHead(key: KeyObject, h: Omit<ChainHead, 'sig'>, kind: MarkKind = 'head'): ChainHead {
  return Object.assign({}, h, { sig: headMac(key, h, kind) });
}

export function headSignatureValid(key: KeyObject, h: ChainHead, kind: MarkKind = 'head'): boolean {
  if (!/^[0-9a-f]{64}$/.test(h.sig)) return false;
  return timingSafeEqual(Buffer.from(h.sig, 'hex'), Buffer.from(headMac(key, h, kind), 'hex'));
}

// Moves the head only forward: a late publish of an older head is ignored.
const PUBLISH = `
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'content_sha256', ARGV[2], 'published_at', ARGV[3], 'sig', ARGV[4])
return 1`;

export async function publishHead(redis: Redis, keys: StreamKeys, head: ChainHead, kind: MarkKind = 'head'): Promise<void> {
  const [err] = await publishHeads(redis, keys, [head], kind);
  if (err) throw err;
}

export async function readHead(redis: Redis, keys: StreamKeys, zoneId: string, kind: MarkKind = 'head'): Promise<ChainHead | null> {
  return asHead(zoneId, await redis.hgetall(headKey(keys, zoneId, kind)));
}

function asHead(zoneId: string, h: Record<string, string>): ChainHead | null {
  if (!h.seq) return null;
  return { zone_id: zoneId, seq: Number(h.seq), content_sha256: h.content_sha256 ?? '', published_at: h.published_at ?? '', sig: h.sig ?? '' };
}

/** Several zones' heads in one round trip; any error fails the whole read. */
export async function readHeads(redis: Redis, keys: StreamKeys, zoneIds: readonly string[]): Promise<Map<string, ChainHead | null>> {
  const p = redis.pipeline();
  for (const z of zoneIds) p.hgetall(headKey(keys, z));
  const replies = (await p.exec()) ?? [];
  return new Map(
    zoneIds.map((z, i) => {
      const [err, h] = replies[i] ?? [new Error('no reply')];
      if (err) throw err;
      return [z, asHead(z, h as Record<string, string>)];
    }),
  );
}

const PUBLISH_SHA1 = createHash('sha1').update(PUBLISH).digest('hex');

/**
 * Publishes several marks of one kind in one round trip, by the script's digest (a Redis that does not hold the script yet gets
 * it in a second round trip); each head's own outcome (null when published or already passed).
 */
export async function publishHeads(redis: Redis, keys: StreamKeys, heads: readonly ChainHead[], kind: MarkKind = 'head'): Promise<Array<Error | null>> {
  const send = async (list: readonly ChainHead[], script: boolean): Promise<Array<Error | null>> => {
    const p = redis.pipeline();
    for (const h of list) {
      const args = [headKey(keys, h.zone_id, kind), String(h.seq), h.content_sha256, h.published_at, h.sig] as const;
      if (script) p.eval(PUBLISH, 1, ...args);
      else p.evalsha(PUBLISH_SHA1, 1, ...args);
    }
    const replies = await p.exec().catch((err: Error) => list.map(() => [err, null] as [Error, null]));
    return list.map((_, i) => replies?.[i]?.[0] ?? null);
  };
  const outcomes = await send(heads, false);
  const unknown = heads.filter((_, i) => outcomes[i]?.message.startsWith('NOSCRIPT'));
  if (unknown.length === 0) return outcomes;
  const retried = await send(unknown, true);
  return heads.map((h, i) => (outcomes[i]?.message.startsWith('NOSCRIPT') ? retried[unknown.indexOf(h)]! : outcomes[i]!));
}
