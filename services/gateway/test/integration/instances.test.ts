// Several gateway processes on one Redis (R-GW-1): a revocation reaches every one of them through the stream, each
// reading it with its own cursor, long before any periodic snapshot could; a forged or unsigned revocation is
// applied by none and counted by each. No consumer group is needed for them to be ready.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishSigned, signFields, StreamKeys, STREAMS } from '../../../../packages/streams/dist/index.js';
import { startAuthorityStack, startService, stopService, type AuthorityStack, type Provisioned, type Running } from '../../../../test-support/authority.js';
import { decodePayload } from '../../../../test-support/forge.js';
import { freePort } from '../../../../test-support/deps.js';
import { buildApp } from '../../dist/app.js';
import { loadConfig } from '../../dist/config.js';

let s: AuthorityStack;
let p: Provisioned;
const gateways: Running[] = [];
let redis: Redis;

/** A gateway whose snapshot would not run again during the test: only the stream can tell it of a revocation. */
async function gateway(n: number): Promise<Running> {
  const port = await freePort();
  const config = loadConfig({
    ...s.env,
    PORT: String(port),
    DATABASE_URL: s.db.roleUrl('gateway'),
    AUDIT_SPILL_DIR: join(s.spillRoot, `gateway-${n}`),
    GATEWAY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    REVOCATION_SNAPSHOT_MS: '600000',
    REVOCATION_STALE_MS: '3600000',
  });
  return startService('gateway', buildApp, config);
}

beforeAll(async () => {
  s = await startAuthorityStack('gwinst');
  p = await s.provision('multi');
  gateways.push(await gateway(1), await gateway(2));
  redis = new Redis(s.env.REDIS_URL);
});
afterAll(async () => {
  redis.disconnect();
  for (const g of gateways) await stopService(g);
  await s.stop();
});

/** A call with a fresh mandate of the session's lineage (a mandate is single-use across all gateways). */
const call = async (g: Running, session: string) => {
  const mandate = await s.mandate(p, session);
  const r = await fetch(`${g.url}/${p.resource.slice('resource://'.length)}/items`, { headers: { authorization: `Bearer ${mandate}` } });
  return { status: r.status, body: (await r.json()) as { error_description?: string } };
};
const rejectedCount = async (g: Running) => {
  const text = await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${s.env.METRICS_BEARER}` } }).then((r) => r.text());
  const line = text.split('\n').find((l) => l.startsWith('caracal_stream_messages_rejected_total{') && l.includes(`stream="${STREAMS.sessionsRevoke}"`) && l.includes('reason="bad_signature"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

async function eventually(what: string, check: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - started;
}

describe('two gateway processes', () => {
  it('are ready without any consumer group on the revocation and key streams', async () => {
    for (const g of gateways) expect((await fetch(`${g.url}/ready`)).status).toBe(200);
    for (const stream of [STREAMS.sessionsRevoke, STREAMS.keysInvalidate]) {
      const groups = (await redis.xinfo('GROUPS', `${s.prefix}${stream}`).catch(() => [])) as unknown[];
      expect(groups).toEqual([]);
    }
  });

  it('apply neither a forged nor an unsigned revocation, and each counts both', async () => {
    const session = await s.session(p);
    const sid = decodePayload(session).sid as string;
    for (const g of gateways) expect((await call(g, session)).status).toBe(200);
    const before = await Promise.all(gateways.map(rejectedCount));

    const key = `${s.prefix}${STREAMS.sessionsRevoke}`;
    const forged = signFields(STREAMS.sessionsRevoke, { zone_id: p.zoneId, target_type: 'session', target_id: sid }, randomBytes(32).toString('hex'));
    await redis.xadd(key, '*', ...Object.entries(forged).flat());
    await redis.xadd(key, '*', 'zone_id', p.zoneId, 'target_type', 'session', 'target_id', sid);

    await eventually('both count the two rejections', async () => (await Promise.all(gateways.map(rejectedCount))).every((n, i) => n === before[i]! + 2), 3000);
    for (const g of gateways) expect((await call(g, session)).status).toBe(200);
  });

  it('both deny a revoked session as soon as the revocation is published, without a snapshot', async () => {
    const session = await s.session(p);
    for (const g of gateways) expect((await call(g, session)).status).toBe(200);
    // Minted before the revocation (the STS refuses afterwards); each is single-use, one per attempt.
    const unused = await Promise.all(Array.from({ length: 60 }, () => s.mandate(p, session)));
    const withMandate = async (g: Running) => {
      const r = await fetch(`${g.url}/${p.resource.slice('resource://'.length)}/items`, { headers: { authorization: `Bearer ${unused.pop()!}` } });
      return { status: r.status, body: (await r.json()) as { error_description?: string } };
    };

    const revoked = await s.admin('POST', `/v1/zones/${p.slug}/sessions/${decodePayload(session).sid}/revoke`, { reason: 'test' });
    expect(revoked.status).toBe(200);
    // The gateway's own cache answers (the STS, asked later in the chain, would say `denied: lineage_revoked`).
    const ownDenial = async (g: Running) => {
      const res = await withMandate(g);
      return res.status === 401 && res.body.error_description === 'the mandate lineage is revoked';
    };
    for (const g of gateways) await eventually('the gateway denies from its cache', () => ownDenial(g), 1000);
  });

  it('a revocation published by hand with the streams key reaches both as well', async () => {
    const session = await s.session(p);
    for (const g of gateways) expect((await call(g, session)).status).toBe(200);
    await publishSigned(redis, new StreamKeys(s.prefix), STREAMS.sessionsRevoke, { zone_id: p.zoneId, target_type: 'session', target_id: decodePayload(session).sid as string }, s.env.STREAMS_HMAC_KEY);
    for (const g of gateways) await eventually('deny', async () => (await call(g, session)).body.error_description === 'the mandate lineage is revoked', 2000);
  });
});
