// The Redis token bucket (R-CTL-1) against the real test Redis: a burst, then one token per refill interval, never
// more than the burst however long the wait, and concurrent takers never share the last token.
import { afterAll, describe, expect, it } from 'vitest';
import { clearPrefix, testRedis, uniquePrefix } from '../../../../test-support/redis.js';
import { takeToken } from '../../dist/index.js';

const redis = testRedis();
const prefix = uniquePrefix('bucket');
afterAll(async () => {
  await clearPrefix(redis, prefix);
  redis.disconnect();
});

const spec = { ratePerSecond: 1, burst: 3 };

describe('takeToken', () => {
  it('spends the burst, says when the next token is back, and refills at the rate', async () => {
    const key = `${prefix}a`;
    const t0 = 1_000_000;
    const first = [];
    for (let i = 0; i < 4; i++) first.push(await takeToken(redis, key, spec, t0));
    expect(first.map((v) => v.allowed)).toEqual([true, true, true, false]);
    expect(first[3]).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect((await takeToken(redis, key, spec, t0 + 999)).allowed).toBe(false);
    expect((await takeToken(redis, key, spec, t0 + 1000)).allowed).toBe(true);
    expect((await takeToken(redis, key, spec, t0 + 1000)).allowed).toBe(false);
  });

  it('never holds more than the burst after a long quiet', async () => {
    const key = `${prefix}b`;
    const t0 = 2_000_000;
    await takeToken(redis, key, spec, t0);
    const later = [];
    for (let i = 0; i < 5; i++) later.push((await takeToken(redis, key, spec, t0 + 3_600_000)).allowed);
    expect(later).toEqual([true, true, true, false, false]);
  });

  it('lets exactly the burst through when many take at once', async () => {
    const key = `${prefix}c`;
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => takeToken(redis, key, { ratePerSecond: 0.001, burst: 5 }, 3_000_000)));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
    expect(Math.min(...verdicts.filter((v) => !v.allowed).map((v) => v.retryAfterSeconds))).toBeGreaterThanOrEqual(1);
  });
});
