// Several sts processes on one Redis (R-STS-2): a key invalidation reaches every one of them through the stream,
// each reading it with its own cursor, so all reload the zone's keys at once instead of when their cache expires;
// a forged or unsigned invalidation makes none of them reload.
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishSigned, signFields, StreamKeys, STREAMS } from '../../../../packages/streams/dist/index.js';
import { startAuthorityStack, startService, stopService, type AuthorityStack, type Provisioned, type Running } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { freePort } from '../../../../test-support/deps.js';
import { buildApp } from '../../dist/app.js';
import { loadConfig } from '../../dist/config.js';

let s: AuthorityStack;
let p: Provisioned;
let second: Running;
let redis: Redis;

beforeAll(async () => {
  s = await startAuthorityStack('stsinst');
  p = await s.provision('keys');
  const port = await freePort();
  second = await startService(
    'sts',
    buildApp,
    loadConfig({ ...s.env, PORT: String(port), DATABASE_URL: s.db.roleUrl('sts'), AUDIT_SPILL_DIR: join(s.spillRoot, 'sts-2'), AUTH_FAILURES_PER_MIN: '1000' }),
  );
  redis = new Redis(s.env.REDIS_URL);
});
afterAll(async () => {
  redis.disconnect();
  await stopService(second);
  await s.stop();
});

const instances = () => [s.sts, second];
const kids = async (r: Running) =>
  ((await fetch(`${r.url}/.well-known/jwks.json?zone_id=${p.zoneId}`).then((res) => res.json())) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();
const rejectedCount = async (r: Running) => {
  const text = await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${s.env.METRICS_BEARER}` } }).then((res) => res.text());
  const line = text.split('\n').find((l) => l.startsWith('caracal_stream_messages_rejected_total{') && l.includes(`stream="${STREAMS.keysInvalidate}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two sts processes', () => {
  it('are ready without any consumer group on the key stream', async () => {
    for (const r of instances()) expect((await fetch(`${r.url}/ready`)).status).toBe(200);
    expect(await redis.xinfo('GROUPS', `${s.prefix}${STREAMS.keysInvalidate}`).catch(() => [])).toEqual([]);
  });

  it('both reload the zone keys on one invalidation; neither on a forged or unsigned one', async () => {
    await s.session(p);
    const rotated = await s.admin('POST', `/v1/zones/${p.slug}/rotate-key`);
    expect(rotated.status).toBe(200);
    const both = [rotated.body.kid, rotated.body.previous_kid].sort();
    // The rotation's own invalidation has been applied; from here each process serves the zone from its cache.
    await sleep(300);
    for (const r of instances()) expect(await kids(r)).toEqual(both);
    const cachedAt = Date.now();

    // The previous key's overlap ends in the database: a process that does not reload keeps publishing it.
    await adminQuery(s.db.adminUrl, "UPDATE caracal.signing_keys SET retire_after = now() - interval '1 second' WHERE kid = $1", [rotated.body.previous_kid]);
    const before = await Promise.all(instances().map(rejectedCount));
    const key = `${s.prefix}${STREAMS.keysInvalidate}`;
    const forged = signFields(STREAMS.keysInvalidate, { zone_id: p.zoneId, kid: rotated.body.previous_kid, action: 'retired' }, randomBytes(32).toString('hex'));
    await redis.xadd(key, '*', ...Object.entries(forged).flat());
    await redis.xadd(key, '*', 'zone_id', p.zoneId, 'kid', rotated.body.previous_kid, 'action', 'retired');
    await sleep(800);
    expect(await Promise.all(instances().map(rejectedCount))).toEqual(before.map((n) => n + 2));
    for (const r of instances()) expect(await kids(r)).toEqual(both);

    await publishSigned(redis, new StreamKeys(s.prefix), STREAMS.keysInvalidate, { zone_id: p.zoneId, kid: rotated.body.previous_kid, action: 'retired' }, s.env.STREAMS_HMAC_KEY);
    for (const r of instances()) {
      const until = Date.now() + 2000;
      while ((await kids(r)).length !== 1 && Date.now() < until) await sleep(25);
      expect(await kids(r)).toEqual([rotated.body.kid]);
    }
    // Well inside the key cache's 10 s lifetime: the reload came from the stream, not from expiry.
    expect(Date.now() - cachedAt).toBeLessThan(8000);
  });
});
