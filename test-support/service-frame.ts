// The frame every service must honour, checked against real Postgres (as the service's own role) and real Redis:
// /health, the /ready ladder naming the first failing dependency, /metrics behind the bearer, RFC-shaped 404s,
// and for audit producers a refusal to start without a safe place to spill audit events (R-AUD-1).
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../packages/logging/dist/index.js';
import { closeDeps, connectDeps, startConnecting, type Runnable, type ServiceDeps } from '../packages/service-kit/dist/index.js';
import type { GroupSpec } from '../packages/streams/dist/index.js';
import { createMigratedDatabase, type MigratedDatabase } from './db.js';
import { freePort } from './deps.js';
import { clearPrefix, redisUrl, testRedis, uniquePrefix } from './redis.js';

type ServiceName = 'api' | 'coordinator' | 'sts' | 'gateway' | 'audit';

export interface FrameSpec<C> {
  service: ServiceName;
  loadConfig: (env: Record<string, string | undefined>) => C;
  buildApp: (config: C, deps: ServiceDeps, logger: ReturnType<typeof createLogger>) => Promise<Runnable>;
  groups: readonly GroupSpec[];
  /** Extra environment the service needs in stable mode (e.g. KEK, service URLs). */
  extraEnv?: Record<string, string>;
  /** A path no route serves and the RFC-shaped body it gets (the gateway proxies most paths). */
  notFound?: { path: string; body: Record<string, string> };
}

const hex = (n: number) => randomBytes(n).toString('hex');
const AUDIT_PRODUCERS: readonly ServiceName[] = ['api', 'sts', 'gateway', 'coordinator'];

export function describeServiceFrame<C>(spec: FrameSpec<C>): void {
  describe(`${spec.service} service frame`, () => {
    let db: MigratedDatabase;
    const prefix = uniquePrefix(spec.service);
    const bearer = hex(32);
    const running: Array<{ app: FastifyInstance; deps: ServiceDeps; stop?: () => Promise<void> }> = [];
    const spillRoot = mkdtempSync(join(tmpdir(), `caracal-spill-${spec.service}-`));

    const env = (overrides: Record<string, string> = {}) => ({
      CARACAL_MODE: 'stable',
      DATABASE_URL: db.roleUrl(spec.service),
      REDIS_URL: redisUrl(),
      REDIS_KEY_PREFIX: prefix,
      STREAMS_HMAC_KEY: hex(32),
      AUDIT_HMAC_KEY: hex(32),
      METRICS_BEARER: bearer,
      LOG_LEVEL: 'silent',
      AUDIT_SPILL_DIR: join(spillRoot, 'spool'),
      ...spec.extraEnv,
      ...overrides,
    });

    async function start(overrides: Record<string, string | undefined> = {}) {
      const config = spec.loadConfig(env(overrides as Record<string, string>)) as C & { REDIS_URL: string };
      const logger = createLogger({ service: spec.service, level: 'silent' });
      const deps = connectDeps(config as never, spec.service, logger);
      startConnecting(deps);
      const r = await spec.buildApp(config, deps, logger).catch(async (err: unknown) => {
        await closeDeps(deps);
        throw err;
      });
      await r.app.ready();
      running.push({ app: r.app, deps, stop: r.stop });
      return r.app;
    }

    beforeAll(async () => {
      db = await createMigratedDatabase(spec.service);
    });
    afterAll(async () => {
      for (const r of running) {
        await r.app.close();
        await r.stop?.();
        await closeDeps(r.deps);
      }
      const redis = testRedis();
      await clearPrefix(redis, prefix);
      redis.disconnect();
      await db.drop();
      rmSync(spillRoot, { recursive: true, force: true });
    });

    it('is live and ready with its own database role, Redis and consumer groups (created when missing)', async () => {
      const app = await start();
      expect((await app.inject('/health')).json()).toEqual({ ok: true, service: spec.service });
      let ready = await app.inject('/ready');
      for (let i = 0; i < 50 && ready.statusCode !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        ready = await app.inject('/ready');
      }
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ ok: true, ready: true, service: spec.service });
      const redis = testRedis();
      try {
        for (const g of spec.groups) {
          const groups = (await redis.xinfo('GROUPS', `${prefix}${g.stream}`)) as unknown[][];
          expect(groups.map((x) => x[1])).toContain(g.group);
        }
      } finally {
        redis.disconnect();
      }
    });

    it('names postgres_unreachable when its database is down', async () => {
      const u = new URL(db.roleUrl(spec.service));
      u.port = String(await freePort());
      const app = await start({ DATABASE_URL: u.toString() });
      const res = await app.inject('/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ ok: false, ready: false, service: spec.service, reason: 'postgres_unreachable' });
    });

    it('names postgres_unreachable when its role cannot log in', async () => {
      const u = new URL(db.roleUrl(spec.service));
      u.username = 'caracal_no_such_role';
      const app = await start({ DATABASE_URL: u.toString() });
      expect((await app.inject('/ready')).json().reason).toBe('postgres_unreachable');
    });

    it('names redis_unreachable when Redis is down', async () => {
      const app = await start({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
      const res = await app.inject('/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json().reason).toBe('redis_unreachable');
    });

    it('keeps /metrics behind the metrics bearer', async () => {
      const app = await start();
      expect((await app.inject('/metrics')).statusCode).toBe(401);
      expect((await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${hex(32)}` } })).statusCode).toBe(401);
      const ok = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${bearer}` } });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('caracal_ready');
    });

    if (AUDIT_PRODUCERS.includes(spec.service)) {
      it('refuses to start in stable mode without AUDIT_SPILL_DIR, naming the key', async () => {
        await expect(start({ AUDIT_SPILL_DIR: undefined })).rejects.toThrow(/AUDIT_SPILL_DIR: is required in stable mode/);
      });

      it('refuses a spill directory open to others or that is not a directory, naming the path', async () => {
        const open = join(spillRoot, 'open');
        mkdirSync(open);
        chmodSync(open, 0o755);
        await expect(start({ AUDIT_SPILL_DIR: open })).rejects.toThrow(`AUDIT_SPILL_DIR: ${open} must have mode 0700, not 0755`);
        const file = join(spillRoot, 'a-file');
        writeFileSync(file, '');
        await expect(start({ AUDIT_SPILL_DIR: file })).rejects.toThrow(`AUDIT_SPILL_DIR: ${file} is not a directory`);
      });

      it('reports the audit spill on /metrics', async () => {
        const app = await start();
        const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${bearer}` } });
        expect(res.body).toMatch(/^caracal_audit_spill_events\{service="[a-z]+"\} 0$/m);
        expect(res.body).toMatch(/^caracal_audit_events_lost_total\{service="[a-z]+"\} 0$/m);
        expect(res.body).toMatch(/^caracal_audit_spill_replayed_total\{service="[a-z]+"\} 0$/m);
      });
    }

    it('answers unknown routes with an RFC-shaped 404 and no-store headers', async () => {
      const app = await start();
      const nf = spec.notFound ?? { path: '/nope?x=1', body: { error: 'not_found', error_description: 'no route for GET /nope' } };
      const res = await app.inject(nf.path);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual(nf.body);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });
  });
}
