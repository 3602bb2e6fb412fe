// The startup tamper sweep and readiness (R-AUD-3, R-OPS-1): a sweep that cannot read the chains yet (Redis not up)
// is retried until it completes, and `/ready` answers 200 neither before that nor while the sweep still runs.
import { afterEach, describe, expect, it } from 'vitest';
import { verifyZone, type VerifyDeps } from '../../../../packages/ledger/dist/index.js';
import { privateRedis, type PrivateRedis } from '../../../../test-support/private-redis.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness | undefined;
let redis: PrivateRedis | undefined;

afterEach(async () => {
  await h?.cleanup();
  await redis?.remove();
  h = redis = undefined;
});

const ready = async (svc: { app: { inject: (url: string) => Promise<{ statusCode: number; json: () => any }> } }) => {
  const res = await svc.app.inject('/ready');
  return { status: res.statusCode, body: res.json() };
};

describe('startup tamper sweep', () => {
  it('Redis not yet up at startup: not ready, then ready once the retried sweep completes', async () => {
    redis = await privateRedis();
    await redis.stop();
    h = await createHarness('sweep_late_redis', { redisUrl: redis.url });
    await h.zone();
    const svc = await h.start({ AUDIT_SWEEP_INTERVAL_S: '3600' });
    // Long enough for the first sweep to have failed against the missing Redis.
    await new Promise((r) => setTimeout(r, 1500));
    expect(svc.sweep.result).toBeUndefined();
    expect(await ready(svc)).toMatchObject({ status: 503, body: { ready: false } });
    await redis.start();
    await h.waitFor('ready after the retried sweep', async () => (await ready(svc)).status === 200, 40_000);
    expect(svc.sweep.result).toMatchObject({ broken: [] });
  }, 60_000);

  it('/ready is 503 audit_chain_unverified while the startup sweep runs, 200 once it has completed', async () => {
    h = await createHarness('sweep_slow');
    await h.zone();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered = 0;
    const slowVerify = async (deps: VerifyDeps, zone: string) => {
      entered++;
      await gate;
      return verifyZone(deps, zone);
    };
    const svc = await h.start({ AUDIT_SWEEP_INTERVAL_S: '3600' }, { sweep: { verify: slowVerify } });
    await h.waitFor('the sweep to start', async () => entered > 0);
    expect(await ready(svc)).toEqual({ status: 503, body: { ok: false, ready: false, service: 'audit', reason: 'audit_chain_unverified' } });
    expect(svc.sweep.busy).toBe(true);
    release();
    await h.waitFor('ready after the sweep', async () => (await ready(svc)).status === 200);
    expect(svc.sweep.busy).toBe(false);
  });
});
