// The outbox relay a service runs (R-STR-5) without STREAMS_HMAC_KEY (dev mode): nothing can be signed, so nothing
// is published, not even with an empty key. Events stay queued with no attempt counted (never dead), the relay says
// why once, and their age shows on /metrics and as `outbox_backlog_stale`, whose logged detail names the missing key (R-OPS-1).
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withZone } from '@caracal/db';
import { createLogger } from '@caracal/logging';
import { enqueue } from '@caracal/outbox';
import { adminQuery, createMigratedDatabase, type MigratedDatabase } from '../../../../test-support/db.js';
import { clearPrefix, redisUrl, uniquePrefix } from '../../../../test-support/redis.js';
import { closeDeps, connectDeps, startConnecting, type ServiceDeps } from '../../src/connect.js';
import { createOutboxRelay, outboxKeys } from '../../src/outbox.js';
import { baseSchema, loadServiceConfig } from '../../src/service-config.js';
import { buildStandardApp } from '../../src/standard-app.js';

const STREAM = 'caracal.sessions.revoke';
const bearer = randomBytes(16).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: MigratedDatabase;
let app: FastifyInstance;
let deps: ServiceDeps;
let zone: string;
const lines: string[] = [];

async function waitFor<T>(what: string, get: () => Promise<T | false>, ms = 15_000): Promise<T> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(50)) {
    const v = await get();
    if (v !== false) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  db = await createMigratedDatabase('svcobx');
  zone = (await adminQuery<{ id: string }>(db.adminUrl, "INSERT INTO caracal.zones (slug, name) VALUES ('obx', 'Obx') RETURNING id")).rows[0]!.id;
  const logger = createLogger({ service: 'api', level: 'info', destination: new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }) });
  const config = loadServiceConfig(
    { schema: baseSchema(3000).extend(outboxKeys) },
    {
      CARACAL_MODE: 'dev',
      DATABASE_URL: db.roleUrl('api'),
      REDIS_URL: redisUrl(),
      REDIS_KEY_PREFIX: uniquePrefix('svcobx'),
      METRICS_BEARER: bearer,
      OUTBOX_POLL_INTERVAL_MS: '50',
      OUTBOX_STALE_AFTER_MS: '1000',
    },
  );
  expect(config.STREAMS_HMAC_KEY).toBeUndefined();
  deps = connectDeps(config, 'api', logger);
  startConnecting(deps);
  const relay = createOutboxRelay(config, deps, logger);
  app = buildStandardApp({ service: 'api', config, deps, logger, groups: [], outbox: { relay, staleAfterMs: config.OUTBOX_STALE_AFTER_MS } }).app;
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  if (deps) {
    await clearPrefix(deps.redis, deps.keys.key('')).catch(() => undefined);
    await closeDeps(deps);
  }
  await db?.drop();
});

describe('an outbox relay without STREAMS_HMAC_KEY', () => {
  it('publishes nothing and counts no attempt; the backlog shows on /metrics and in readiness, and it says why once', async () => {
    const id = await withZone(deps.pool, zone, (c) => enqueue(c, STREAM, { zone_id: zone, target_id: 'x' }));
    await adminQuery(db.adminUrl, "UPDATE caracal.outbox SET created_at = now() - interval '1 hour'");
    const unready = await waitFor('outbox_backlog_stale', async () => {
      const r = await app.inject('/ready');
      return r.statusCode === 503 && (r.json() as { reason: string });
    });
    expect(unready).toMatchObject({ reason: 'outbox_backlog_stale' });
    // The answer names the reason; the log says why.
    expect(lines.find((l) => l.includes('not ready') && l.includes('outbox_backlog_stale'))).toContain('STREAMS_HMAC_KEY is not set');

    const row = await adminQuery(db.adminUrl, 'SELECT attempts, published_at, dead_at FROM caracal.outbox WHERE id = $1', [id]);
    expect(row.rows).toEqual([{ attempts: 0, published_at: null, dead_at: null }]);
    expect(await deps.redis.exists(deps.keys.key(STREAM))).toBe(0);

    const metrics = (await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${bearer}` } })).body;
    expect(Number(/^caracal_outbox_backlog_oldest_age_seconds\S* (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(3500);
    expect(metrics).not.toMatch(/^caracal_outbox_failed_attempts_total\{/m);
    // Many passes ran (one every 50 ms); the reason was logged once.
    expect(lines.filter((l) => l.includes('outbox relay publishes nothing'))).toHaveLength(1);
    expect(lines.find((l) => l.includes('outbox relay publishes nothing'))).toContain('STREAMS_HMAC_KEY');
  });
});
