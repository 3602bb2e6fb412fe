// An api service in-process for the ledger's read side (search, verify, DLQ): its own database, Redis key prefix
// and keys; zone chains seeded with the ledger's own append and signed heads, DLQ entries shaped as the consumer
// writes them, and rows tampered with as a superuser would.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainKey, createPool, withZone, type Pool } from '../packages/db/dist/index.js';
import { appendZoneBatch, canonicalEvent, publishChainHead, signHead, type LedgerEvent } from '../packages/ledger/dist/index.js';
import { createLogger } from '../packages/logging/dist/index.js';
import { closeDeps, connectDeps, startConnecting, type Runnable, type ServiceDeps } from '../packages/service-kit/dist/index.js';
import { STREAMS, StreamKeys, signAuditData } from '../packages/streams/dist/index.js';
import { buildApp } from '../services/api/dist/app.js';
import { loadConfig } from '../services/api/dist/config.js';
import { adminQuery, createMigratedDatabase, type MigratedDatabase } from './db.js';
import { freePort } from './deps.js';
import { clearPrefix, redisUrl, testRedis, uniquePrefix } from './redis.js';

export const hex = (n = 32) => randomBytes(n).toString('hex');

export interface AuditApi {
  db: MigratedDatabase;
  prefix: string;
  keys: StreamKeys;
  url: string;
  adminToken: string;
  auditHmacKey: string;
  redis: ReturnType<typeof testRedis>;
  /** A pool as the audit role: the only role that may append to the ledger. */
  auditPool: Pool;
  call: (method: string, path: string, opts?: { body?: unknown; token?: string | null }) => Promise<{ status: number; body: any }>;
  zone: (slug: string) => Promise<string>;
  seed: (zoneId: string, count: number, shape?: (i: number) => Record<string, unknown>) => Promise<LedgerEvent[]>;
  superuser: (sql: string, params?: unknown[]) => Promise<Array<Record<string, any>>>;
  stop: () => Promise<void>;
}

/** Events one minute apart from this instant, so time filters have something to cut. */
export const BASE_TIME = Date.parse('2025-03-01T10:00:00.000Z');

export function eventAt(zoneId: string, i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: randomUUID(),
    zone_id: zoneId,
    type: i % 2 === 0 ? 'token.issued' : 'token.denied',
    source: 'sts',
    occurred_at: new Date(BASE_TIME + i * 60_000).toISOString(),
    decision: i % 2 === 0 ? 'allow' : 'deny',
    reason: i % 2 === 0 ? 'granted' : 'no_rule_matched',
    request_id: `req-${i}`,
    data: { n: i },
    ...extra,
  };
}

export async function startAuditApi(label: string, apiEnv: Record<string, string | undefined> = {}): Promise<AuditApi> {
  const db = await createMigratedDatabase(label);
  const prefix = uniquePrefix(label);
  const adminToken = hex();
  const auditHmacKey = hex();
  const port = await freePort();
  // The api keeps audit events here while Redis cannot take them (R-AUD-1).
  const spillRoot = mkdtempSync(join(tmpdir(), 'caracal-spill-'));
  const config = loadConfig({
    CARACAL_MODE: 'stable',
    LOG_LEVEL: 'silent',
    PORT: String(port),
    DATABASE_URL: db.roleUrl('api'),
    REDIS_URL: redisUrl(),
    REDIS_KEY_PREFIX: prefix,
    STREAMS_HMAC_KEY: hex(),
    AUDIT_HMAC_KEY: auditHmacKey,
    METRICS_BEARER: hex(),
    SECRET_STORE_KEK: hex(),
    CARACAL_ADMIN_TOKEN: adminToken,
    API_RATE_PER_MIN: '100000',
    AUDIT_SPILL_DIR: join(spillRoot, 'api'),
    ...apiEnv,
  });
  const logger = createLogger({ service: 'api', level: 'silent' });
  const deps: ServiceDeps = connectDeps(config, 'api', logger);
  startConnecting(deps);
  const runnable: Runnable = await buildApp(config, deps, logger);
  await runnable.app.listen({ host: '127.0.0.1', port });
  const url = `http://127.0.0.1:${port}`;
  await ready(url);
  const keys = new StreamKeys(prefix);
  const redis = testRedis();
  const auditPool = createPool({ connectionString: db.roleUrl('audit'), applicationName: 'caracal-test-audit' });
  const key = chainKey(auditHmacKey);

  const api: AuditApi = {
    db,
    prefix,
    keys,
    url,
    adminToken,
    auditHmacKey,
    redis,
    auditPool,
    async call(method, path, opts = {}) {
      const token = opts.token === undefined ? adminToken : opts.token;
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async zone(slug) {
      const res = await api.call('POST', '/v1/zones', { body: { slug, name: slug } });
      if (res.status !== 201) throw new Error(`zone ${slug}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },
    /** Appends `count` events to the zone's chain and publishes the signed head, as the audit service does. */
    async seed(zoneId, count, shape = (i) => eventAt(zoneId, i)) {
      const events = Array.from({ length: count }, (_, i) => {
        const parsed = canonicalEvent(shape(i));
        if (!parsed.ok) throw new Error(`seed event ${i}: ${parsed.reason}: ${parsed.detail}`);
        return parsed.event;
      });
      const result = await withZone(auditPool, zoneId, (c) => appendZoneBatch(c, key, zoneId, events, new Date()));
      if (result.head) {
        const head = signHead(key, { zone_id: zoneId, seq: result.head.seq, content_sha256: result.head.content_sha256, published_at: new Date().toISOString() });
        await publishChainHead(redis, keys, auditPool, head);
      }
      return events;
    },
    async superuser(sql, params = []) {
      return (await adminQuery(db.adminUrl, sql, params)).rows;
    },
    async stop() {
      await runnable.app.close();
      await runnable.stop?.();
      await closeDeps(deps);
      await auditPool.end();
      await clearPrefix(redis, prefix);
      redis.disconnect();
      await db.drop();
      rmSync(spillRoot, { recursive: true, force: true });
    },
  };
  return api;
}

/** The api connects to Redis lazily: requests before it is ready would fail closed. */
async function ready(url: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await fetch(`${url}/ready`).then((r) => r.status, () => 0)) === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not become ready`);
}

/** A DLQ entry as the stream consumer writes it: the original fields, then the `_dlq_*` description. */
export async function deadLetter(api: AuditApi, original: Record<string, string>, reason: string, detail = ''): Promise<string> {
  const extra = { _dlq_reason: reason, _dlq_detail: detail, _dlq_source_id: '1-0', _dlq_deliveries: '1', _dlq_at: new Date().toISOString() };
  return (await api.redis.xadd(api.keys.key(STREAMS.auditDlq), '*', ...Object.entries({ ...original, ...extra }).flat())) as string;
}

/** The fields of a validly signed audit message carrying `event` (or raw `data` text). */
export function signedMessage(api: AuditApi, event: Record<string, unknown> | string): { data: string; sig: string } {
  return signAuditData(typeof event === 'string' ? event : JSON.stringify(event), api.auditHmacKey);
}
