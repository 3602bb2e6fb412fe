// Announcing committed revocations on real Redis: one signed message per record, verifiable with the streams key;
// nothing without a key; a Redis that cannot be reached answers false and logs, never throws (snapshots converge).
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../../test-support/deps.js';
import { clearPrefix, testRedis, uniquePrefix } from '../../../../test-support/redis.js';
import { announceRevocations, type Announcer } from '../../src/announce.js';
import { StreamKeys } from '../../src/keys.js';
import { STREAMS } from '../../src/names.js';
import { verifyFields } from '../../src/sign.js';

const KEY = '5d'.repeat(32);
const redis = testRedis();
const prefix = uniquePrefix('announce');
const warnings: string[] = [];
const logger = { warn: (_: object, msg: string) => void warnings.push(msg) };
afterAll(async () => {
  await clearPrefix(redis, prefix);
  redis.disconnect();
});

const rows = [
  { zone_id: '0190f3d2-0000-7000-8000-000000000001', target_type: 'delegation_edge', target_id: '0190f3d2-0000-7000-8000-0000000000e1', revoked_at: new Date('2026-01-01T00:00:00Z') },
  { zone_id: '0190f3d2-0000-7000-8000-000000000001', target_type: 'agent_session', target_id: '0190f3d2-0000-7000-8000-0000000000a1', revoked_at: new Date('2026-01-01T00:00:01Z') },
];

describe('announceRevocations', () => {
  it('publishes one signed message per record on caracal.sessions.revoke', async () => {
    const a: Announcer = { redis, keys: new StreamKeys(prefix), hmacKey: KEY, logger };
    expect(await announceRevocations(a, rows)).toBe(2);
    const entries = await redis.xrange(`${prefix}${STREAMS.sessionsRevoke}`, '-', '+');
    const fields = entries.map(([, f]) => Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i]!, f[2 * i + 1]!])));
    for (const f of fields) expect(verifyFields(STREAMS.sessionsRevoke, f, KEY)).toBe(true);
    expect(new Set(fields.map((f) => `${f.target_type}:${f.target_id}:${f.revoked_at}`))).toEqual(new Set(rows.map((r) => `${r.target_type}:${r.target_id}:${r.revoked_at.toISOString()}`)));
  });

  it('announces nothing without a streams key', async () => {
    const other = uniquePrefix('announce-nokey');
    expect(await announceRevocations({ redis, keys: new StreamKeys(other), hmacKey: undefined, logger }, rows)).toBe(0);
    expect(await redis.exists(`${other}${STREAMS.sessionsRevoke}`)).toBe(0);
  });

  it('answers 0 and logs when Redis cannot be reached', async () => {
    const down = new Redis(`redis://127.0.0.1:${await freePort()}`, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    try {
      warnings.length = 0;
      expect(await announceRevocations({ redis: down, keys: new StreamKeys(prefix), hmacKey: KEY, logger }, rows)).toBe(0);
      expect(warnings).toEqual(['stream publish failed; snapshots will converge', 'stream publish failed; snapshots will converge']);
    } finally {
      down.disconnect();
    }
  });
});
