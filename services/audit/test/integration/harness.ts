// A real audit service in-process (its own database, Redis key prefix and keys), plus producers' helpers:
// signed events published with the shared publisher, zones created as the operator would, row reads as superuser.
import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger } from '../../../../packages/logging/dist/index.js';
import { closeDeps, connectDeps, startConnecting, type ServiceDeps } from '../../../../packages/service-kit/dist/index.js';
import { STREAMS, StreamKeys, publishAudit, toFields } from '../../../../packages/streams/dist/index.js';
import { Redis } from 'ioredis';
import { adminQuery, createMigratedDatabase, type MigratedDatabase } from '../../../../test-support/db.js';
import { clearPrefix, redisUrl, testRedis, uniquePrefix } from '../../../../test-support/redis.js';
import { buildApp, type AuditAdapters, type AuditRunnable } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

export const hex = (n = 32) => randomBytes(n).toString('hex');

export interface Harness {
  db: MigratedDatabase;
  prefix: string;
  keys: StreamKeys;
  hmacKey: string;
  redis: ReturnType<typeof testRedis>;
  env: (overrides?: Record<string, string>) => Record<string, string>;
  start: (overrides?: Record<string, string>, adapters?: AuditAdapters) => Promise<AuditRunnable & { deps: ServiceDeps }>;
  /** Stops one service started with `start` (gracefully: its consumer hands over what it still holds). */
  stop: (r: AuditRunnable & { deps: ServiceDeps }) => Promise<void>;
  stopAll: () => Promise<void>;
  /** The text of a running service's `/metrics`, read with its bearer. */
  metrics: (r: AuditRunnable) => Promise<string>;
  zone: (slug?: string) => Promise<string>;
  event: (zoneId: string, extra?: Record<string, unknown>) => Record<string, unknown>;
  publish: (event: Record<string, unknown>) => Promise<string>;
  publishRaw: (fields: Record<string, string>) => Promise<string>;
  rows: (zoneId: string) => Promise<Array<Record<string, any>>>;
  dlq: () => Promise<Array<Record<string, string>>>;
  waitFor: (what: string, done: () => Promise<boolean>, timeoutMs?: number) => Promise<void>;
  cleanup: () => Promise<void>;
}

export async function createHarness(label: string, opts: { redisUrl?: string } = {}): Promise<Harness> {
  const db = await createMigratedDatabase(label);
  const prefix = uniquePrefix(label);
  const keys = new StreamKeys(prefix);
  const hmacKey = hex();
  const url = opts.redisUrl ?? redisUrl();
  const redis = opts.redisUrl ? new Redis(opts.redisUrl, { maxRetriesPerRequest: 1 }) : testRedis();
  redis.on('error', () => undefined);
  const running: Array<AuditRunnable & { deps: ServiceDeps }> = [];
  const env = (overrides: Record<string, string> = {}) => ({
    CARACAL_MODE: 'stable',
    DATABASE_URL: db.roleUrl('audit'),
    REDIS_URL: url,
    REDIS_KEY_PREFIX: prefix,
    STREAMS_HMAC_KEY: hex(),
    AUDIT_HMAC_KEY: hmacKey,
    METRICS_BEARER: hex(),
    LOG_LEVEL: 'silent',
    PORT: '9',
    AUDIT_RECLAIM_IDLE_MS: '500',
    ...overrides,
  });
  const stopOne = async (r: AuditRunnable & { deps: ServiceDeps }) => {
    await r.app.close();
    await r.stop?.();
    await closeDeps(r.deps);
  };
  const h: Harness = {
    db,
    prefix,
    keys,
    hmacKey,
    redis,
    env,
    async start(overrides = {}, adapters = {}) {
      const config = loadConfig(env(overrides));
      const logger = createLogger({ service: 'audit', level: 'silent' });
      const deps = connectDeps(config, 'audit', logger);
      startConnecting(deps);
      const r = Object.assign(await buildApp(config, deps, logger, adapters), { deps });
      await r.app.ready();
      running.push(r);
      return r;
    },
    async stop(r) {
      running.splice(running.indexOf(r), 1);
      await stopOne(r);
    },
    async stopAll() {
      for (const r of running.splice(0)) await stopOne(r);
    },
    async metrics(r) {
      return (await r.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${r.metricsBearer}` } })).body;
    },
    async zone(slug = `z-${hex(4)}`) {
      const res = await adminQuery<{ id: string }>(db.adminUrl, 'INSERT INTO caracal.zones (slug, name) VALUES ($1, $1) RETURNING id', [slug]);
      return res.rows[0]!.id;
    },
    event: (zoneId, extra = {}) => ({
      id: randomUUID(),
      source: 'test',
      occurred_at: new Date().toISOString(),
      zone_id: zoneId,
      type: 'mandate.issued',
      decision: 'allow',
      reason: 'granted',
      request_id: randomUUID(),
      data: { n: Math.random() },
      ...extra,
    }),
    publish: (event) => publishAudit(redis, keys, STREAMS.auditEvents, JSON.stringify(event), hmacKey),
    publishRaw: async (fields) => (await redis.xadd(keys.key(STREAMS.auditEvents), '*', ...Object.entries(fields).flat())) as string,
    async rows(zoneId) {
      const res = await adminQuery(db.adminUrl, 'SELECT * FROM caracal.audit_events WHERE zone_id = $1 ORDER BY chain_seq', [zoneId]);
      return res.rows;
    },
    async dlq() {
      const entries = (await redis.xrange(keys.key(STREAMS.auditDlq), '-', '+')) as Array<[string, string[]]>;
      return entries.map(([id, flat]) => ({ _id: id, ...toFields(flat) }));
    },
    async waitFor(what, done, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (!(await done())) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async cleanup() {
      await h.stopAll();
      await clearPrefix(redis, prefix);
      redis.disconnect();
      await db.drop();
    },
  };
  return h;
}
