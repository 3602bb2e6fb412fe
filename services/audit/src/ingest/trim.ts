// Keeps the audit stream bounded by what is already committed: entries below the oldest pending (or, with
// nothing pending, below the last delivered) entry of the group are trimmed. Nothing unacknowledged is touched.
import type { Redis } from 'ioredis';

export async function trimAcknowledged(redis: Redis, key: string, group: string): Promise<void> {
  const groups = (await redis.xinfo('GROUPS', key)) as unknown[][];
  const mine = groups.map(toRecord).find((g) => g.name === group);
  if (!mine) return;
  let threshold = String(mine['last-delivered-id']);
  if (Number(mine.pending) > 0) {
    const summary = (await redis.xpending(key, group)) as [number, string | null, string | null, unknown];
    if (summary[1]) threshold = summary[1];
  }
  if (threshold && threshold !== '0-0') await redis.xtrim(key, 'MINID', '~', threshold);
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}
