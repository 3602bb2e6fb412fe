// R-AUD-1 and R-OPS-1 through the app every producer is built from: an event emitted while Redis is away is
// spilled and published when it returns; an event that cannot be kept makes `/ready` answer 503
// `audit_evidence_lost`, and it stays so after Redis is back. Real Postgres, a real redis-server stopped and
// started again.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@caracal/logging';
import { toFields, verifyAuditData, type AuditEmitter } from '@caracal/streams';
import { createMigratedDatabase, type MigratedDatabase } from '../../../../test-support/db.js';
import { privateRedis, type PrivateRedis } from '../../../../test-support/private-redis.js';
import { uniquePrefix } from '../../../../test-support/redis.js';
import { closeDeps, connectDeps, startConnecting, type ServiceDeps } from '../../src/connect.js';
import { baseSchema, loadServiceConfig } from '../../src/service-config.js';
import { buildStandardApp } from '../../src/standard-app.js';

const hex = () => randomBytes(32).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: MigratedDatabase;
let server: PrivateRedis;
let spillRoot: string;
const running: Array<{ app: FastifyInstance; deps: ServiceDeps }> = [];

async function waitFor(what: string, ok: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(50)) if (await ok()) return;
  throw new Error(`timed out waiting for ${what}`);
}

async function producer(env: Record<string, string> = {}) {
  const lines: string[] = [];
  const destination = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
  const logger = createLogger({ service: 'api', level: 'info', destination });
  const prefix = uniquePrefix('evidence');
  const auditKey = hex();
  const bearer = hex();
  const config = loadServiceConfig(
    { schema: baseSchema(3000) },
    {
      CARACAL_MODE: 'stable',
      DATABASE_URL: db.roleUrl('api'),
      REDIS_URL: server.url,
      REDIS_KEY_PREFIX: prefix,
      STREAMS_HMAC_KEY: hex(),
      AUDIT_HMAC_KEY: auditKey,
      METRICS_BEARER: bearer,
      AUDIT_SPILL_DIR: join(spillRoot, prefix.replace(/:/g, '_')),
      ...env,
    },
  );
  const deps = connectDeps(config, 'api', logger);
  startConnecting(deps);
  const { app, emit } = buildStandardApp({ service: 'api', config, deps, logger, groups: [], audit: 'api' });
  running.push({ app, deps });
  await app.ready();
  const metric = async (name: string) => {
    const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${bearer}` } });
    return Number(new RegExp(`^${name}\\{service="api"\\} (\\d+)$`, 'm').exec(res.body)?.[1]);
  };
  const stream = async () => {
    const rows = (await deps.redis.xrange(deps.keys.key('caracal.audit.events'), '-', '+')) as Array<[string, string[]]>;
    return rows.map(([, flat]) => toFields(flat));
  };
  return { app, deps, emit: emit as AuditEmitter, lines, auditKey, metric, stream };
}

async function redisDown(deps: ServiceDeps): Promise<void> {
  await server.stop();
  await waitFor('the client to notice', () => deps.redis.status !== 'ready');
}

async function redisUp(deps: ServiceDeps): Promise<void> {
  await server.start();
  await waitFor('the client to reconnect', () => deps.redis.status === 'ready');
}

beforeAll(async () => {
  db = await createMigratedDatabase('evidence');
  server = await privateRedis();
  spillRoot = mkdtempSync(join(tmpdir(), 'caracal-evidence-'));
});

afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.app.close();
    await closeDeps(r.deps);
  }
});

afterAll(async () => {
  await server.remove();
  await db.drop();
  rmSync(spillRoot, { recursive: true, force: true });
});

describe('audit evidence and readiness', () => {
  it('answers 503 audit_evidence_lost once an event could not be kept, and stays so after Redis returns', async () => {
    const p = await producer({ AUDIT_SPILL_MAX_BYTES: '16' });
    await waitFor('readiness', async () => (await p.app.inject('/ready')).statusCode === 200);
    expect(await p.metric('caracal_audit_events_lost_total')).toBe(0);

    await redisDown(p.deps);
    const event = await p.emit({ zone_id: 'z1', type: 'test.lost' });
    expect((await p.app.inject('/ready')).json().reason).toBe('redis_unreachable');

    await redisUp(p.deps);
    const res = await p.app.inject('/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ ok: false, ready: false, service: 'api', reason: 'audit_evidence_lost' });
    expect(await p.metric('caracal_audit_events_lost_total')).toBe(1);
    expect(await p.metric('caracal_audit_spill_events')).toBe(0);

    const lost = p.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'audit evidence lost');
    expect(lost).toMatchObject({ level: 50, reason: 'spill_full', count: 1, event_ids: [event.id] });
    const all = p.lines.join('');
    expect(all).not.toContain(p.auditKey);
    expect(all).not.toMatch(/"sig"/);
  });

  it('spills an event while Redis is away and publishes it when Redis returns; readiness recovers', async () => {
    const p = await producer();
    await waitFor('readiness', async () => (await p.app.inject('/ready')).statusCode === 200);
    await redisDown(p.deps);
    const event = await p.emit({ zone_id: 'z1', type: 'test.spilled' });
    expect(await p.metric('caracal_audit_spill_events')).toBe(1);

    await redisUp(p.deps);
    // The replayer runs on its own timer, started with the app.
    await waitFor('the spill to drain', async () => (await p.metric('caracal_audit_spill_replayed_total')) === 1);
    const entries = await p.stream();
    expect(entries.map((f) => JSON.parse(f.data!).id)).toEqual([event.id]);
    expect(verifyAuditData(entries[0]!, p.auditKey)).toBe(true);
    expect(await p.metric('caracal_audit_spill_events')).toBe(0);
    expect((await p.app.inject('/ready')).statusCode).toBe(200);
  });
});
