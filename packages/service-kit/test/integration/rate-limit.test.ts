// The fixed-window rate limit against the real test Redis: counts within a window, the verdict at the limit, the
// counter's lifetime, a new window, concurrent hits counted once each, and a Redis that cannot answer.
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { clearPrefix, testRedis, uniquePrefix } from '../../../../test-support/redis.js';
import { hitRateLimit } from '../../dist/index.js';

const redis = testRedis();
const prefix = uniquePrefix('ratelimit');
afterAll(async () => {
  await clearPrefix(redis, prefix);
  redis.disconnect();
});

const T0 = 1_700_000_020_000; // 40 s into a minute

describe('hitRateLimit', () => {
  it('counts hits in a window, allows up to the limit and says when the window ends', async () => {
    const key = `${prefix}a`;
    const verdicts = [];
    for (let i = 0; i < 4; i++) verdicts.push(await hitRateLimit(redis, key, 3, 60, T0));
    expect(verdicts.map((v) => [v.allowed, v.count])).toEqual([[true, 1], [true, 2], [true, 3], [false, 4]]);
    expect(verdicts[3]!.retryAfterSeconds).toBe(20);
    const counter = `${key}:${Math.floor(T0 / 60_000)}`;
    expect(await redis.get(counter)).toBe('4');
    const ttl = await redis.ttl(counter);
    expect(ttl).toBeGreaterThan(110);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('starts again in the next window', async () => {
    const key = `${prefix}b`;
    await hitRateLimit(redis, key, 1, 60, T0);
    expect((await hitRateLimit(redis, key, 1, 60, T0)).allowed).toBe(false);
    expect(await hitRateLimit(redis, key, 1, 60, T0 + 20_000)).toMatchObject({ allowed: true, count: 1, retryAfterSeconds: 60 });
  });

  it('counts concurrent hits once each', async () => {
    const key = `${prefix}c`;
    const verdicts = await Promise.all(Array.from({ length: 25 }, () => hitRateLimit(redis, key, 10, 60, T0)));
    expect(verdicts.map((v) => v.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(10);
  });

  it('rejects a reply that is not a count instead of reading it as 0', async () => {
    // A stand-in: a real Redis never answers this script with anything but a count.
    const odd = { eval: async () => null } as unknown as Redis;
    await expect(hitRateLimit(odd, `${prefix}e`, 10, 60, T0)).rejects.toThrow(/unexpected rate-limit reply/);
  });

  it('rejects when Redis cannot answer, so callers deny', async () => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await expect(hitRateLimit(down, `${prefix}d`, 10, 60, T0)).rejects.toThrow();
    down.disconnect();
  });
});
