// A Redis connection and a key prefix of its own per test, so runs never see each other's streams.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

export function redisUrl(): string {
  return inject('redisUrl');
}

export function uniquePrefix(label = 't'): string {
  return `caracal-test:${label}:${randomBytes(4).toString('hex')}:`;
}

export function testRedis(): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
}

/** Deletes every key under a prefix (SCAN, never KEYS). */
export async function clearPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
