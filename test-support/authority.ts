// The authority path in one process, against real Postgres and Redis: api, sts and gateway built with their own
// buildApp and listening on real ports, plus a recording upstream. Used by the STS and gateway integration tests.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../packages/logging/dist/index.js';
import { closeDeps, connectDeps, startConnecting, type Runnable, type ServiceDeps } from '../packages/service-kit/dist/index.js';
import { verifyAuditData } from '../packages/streams/dist/index.js';
import { buildApp as buildApi } from '../services/api/dist/app.js';
import { loadConfig as apiConfig } from '../services/api/dist/config.js';
import { buildApp as buildGateway, type GatewayOverrides } from '../services/gateway/dist/app.js';
import { loadConfig as gatewayConfig } from '../services/gateway/dist/config.js';
import { buildApp as buildSts } from '../services/sts/dist/app.js';
import { loadConfig as stsConfig } from '../services/sts/dist/config.js';
import { createMigratedDatabase, type MigratedDatabase } from './db.js';
import { freePort } from './deps.js';
import { Redis } from 'ioredis';
import { clearPrefix, redisUrl, testRedis, uniquePrefix } from './redis.js';

const hex = (n = 32) => randomBytes(n).toString('hex');
export const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface UpstreamControl {
  url: string;
  requests: Recorded[];
  /** Replaces the default handler (200 JSON echo). */
  handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  close: () => Promise<void>;
}

export async function startUpstream(): Promise<UpstreamControl> {
  const ctl: UpstreamControl = { url: '', requests: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      ctl.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (ctl.handler) return ctl.handler(req, res);
      res.setHeader('server', 'upstream/1.0');
      res.setHeader('x-powered-by', 'upstream-framework');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, url: req.url }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ctl.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ctl.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return ctl;
}

interface Running {
  runnable: Runnable;
  deps: ServiceDeps;
  url: string;
}

export interface AuthorityStack {
  db: MigratedDatabase;
  prefix: string;
  env: StackEnv;
  /** Each service spills audit events to `<spillRoot>/<service>` (R-AUD-1). */
  spillRoot: string;
  adminToken: string;
  api: Running;
  sts: Running;
  gateway: Running;
  upstream: UpstreamControl;
  admin: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any; headers: Headers }>;
  token: (form: Record<string, string | string[]>, init?: { headers?: Record<string, string> }) => Promise<{ status: number; body: any; headers: Headers }>;
  provision: (slug: string, opts?: { scopes?: string[]; operations?: unknown[]; credential?: string; upstream?: string; placement?: unknown }) => Promise<Provisioned>;
  session: (p: Provisioned) => Promise<string>;
  mandate: (p: Provisioned, session?: string, scope?: string) => Promise<string>;
  auditEvents: () => Promise<Array<Record<string, any>>>;
  restartGateway: (overrides?: Record<string, string>, o?: GatewayOverrides) => Promise<void>;
  stop: () => Promise<void>;
}

export interface StackEnv {
  [key: string]: string;
  REDIS_URL: string;
  STREAMS_HMAC_KEY: string;
  AUDIT_HMAC_KEY: string;
  SECRET_STORE_KEK: string;
  GATEWAY_STS_HMAC_KEY: string;
  CARACAL_ISSUER_URL: string;
}

export interface Provisioned {
  slug: string;
  zoneId: string;
  clientId: string;
  clientSecret: string;
  applicationId: string;
  resource: string;
}

async function start(name: string, build: (c: any, d: ServiceDeps, l: any) => Promise<Runnable>, config: any): Promise<Running> {
  const logger = createLogger({ service: name, level: 'silent' });
  const deps = connectDeps(config, name, logger);
  startConnecting(deps);
  const runnable = await build(config, deps, logger);
  await runnable.app.listen({ host: '127.0.0.1', port: config.PORT });
  const url = `http://127.0.0.1:${config.PORT}`;
  await waitReady(url);
  return { runnable, deps, url };
}

async function stopOne(r: Running): Promise<void> {
  await r.runnable.app.close();
  await r.runnable.stop?.();
  await closeDeps(r.deps);
}

export interface StackOptions {
  /** Another Redis than the shared test one (e.g. a private server a test stops and restarts). */
  redisUrl?: string;
  /** Another Postgres server's superuser URL than the shared one (a private server a test pauses or stops). */
  pgUrl?: string;
  apiEnv?: Record<string, string>;
  stsEnv?: Record<string, string>;
}

export async function startAuthorityStack(label: string, gatewayOverrides: GatewayOverrides = {}, opts: StackOptions = {}): Promise<AuthorityStack> {
  const db = await createMigratedDatabase(label, opts.pgUrl);
  const prefix = uniquePrefix(label);
  const upstream = await startUpstream();
  const adminToken = hex();
  const [apiPort, stsPort, gwPort] = [await freePort(), await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${stsPort}`;
  const spillRoot = mkdtempSync(join(tmpdir(), 'caracal-spill-'));
  const spill = (service: string) => join(spillRoot, service);
  const env = {
    CARACAL_MODE: 'stable',
    LOG_LEVEL: 'silent',
    REDIS_URL: opts.redisUrl ?? redisUrl(),
    REDIS_KEY_PREFIX: prefix,
    STREAMS_HMAC_KEY: hex(),
    AUDIT_HMAC_KEY: hex(),
    METRICS_BEARER: hex(),
    SECRET_STORE_KEK: hex(),
    GATEWAY_STS_HMAC_KEY: hex(),
    CARACAL_ISSUER_URL: issuer,
    CARACAL_STS_URL: issuer,
  };
  const api = await start('api', buildApi, apiConfig({ ...env, PORT: String(apiPort), DATABASE_URL: db.roleUrl('api'), AUDIT_SPILL_DIR: spill('api'), CARACAL_ADMIN_TOKEN: adminToken, ...opts.apiEnv }));
  const sts = await start('sts', buildSts, stsConfig({ ...env, PORT: String(stsPort), DATABASE_URL: db.roleUrl('sts'), AUDIT_SPILL_DIR: spill('sts'), AUTH_FAILURES_PER_MIN: '1000', ...opts.stsEnv }));
  const gwConfig = (o: Record<string, string> = {}) =>
    gatewayConfig({ ...env, PORT: String(gwPort), DATABASE_URL: db.roleUrl('gateway'), AUDIT_SPILL_DIR: spill('gateway'), GATEWAY_PUBLIC_URL: `http://127.0.0.1:${gwPort}`, UPSTREAM_TIMEOUT_MS: '1500', ...o });
  let gateway = await start('gateway', (c, d, l) => buildGateway(c, d, l, gatewayOverrides), gwConfig());

  const call = async (url: string, init: RequestInit) => {
    const res = await fetch(url, { ...init, redirect: 'manual' });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body, headers: res.headers };
  };
  const stack: AuthorityStack = {
    db,
    prefix,
    env,
    spillRoot,
    adminToken,
    api,
    sts,
    get gateway() {
      return gateway;
    },
    upstream,
    admin: (method, path, body) =>
      call(`${api.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    token: (form, init = {}) => {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(form)) for (const x of Array.isArray(v) ? v : [v]) params.append(k, x);
      return call(`${sts.url}/oauth/2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...init.headers }, body: params.toString() });
    },
    provision: async (slug, opts = {}) => {
      const zone = await stack.admin('POST', '/v1/zones', { slug, name: slug });
      const app = await stack.admin('POST', `/v1/zones/${slug}/applications`, { name: 'agent' });
      const resource = `resource://${slug}-api`;
      await stack.admin('POST', `/v1/zones/${slug}/resources`, {
        identifier: resource,
        upstream_url: opts.upstream ?? upstream.url,
        credential: opts.credential ?? 'upstream-credential-value',
        operations: opts.operations ?? [{ method: '*', path: '/*', scope: 'items:read' }],
        ...(opts.placement ? { auth_placement: opts.placement } : {}),
      });
      await stack.admin('POST', `/v1/zones/${slug}/grants`, { application: app.body.client_id, resource, scopes: opts.scopes ?? ['items:read'] });
      return { slug, zoneId: zone.body.id, clientId: app.body.client_id, clientSecret: app.body.client_secret, applicationId: app.body.id, resource };
    },
    session: async (p) => {
      const res = await stack.token({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: p.clientSecret });
      if (res.status !== 200) throw new Error(`bootstrap failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.access_token;
    },
    mandate: async (p, session, scope = 'items:read') => {
      const res = await stack.token({ grant_type: EXCHANGE, subject_token: session ?? (await stack.session(p)), subject_token_type: ACCESS, resource: p.resource, scope });
      if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.access_token;
    },
    auditEvents: async () => {
      const r = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        const entries = await r.xrange(`${prefix}caracal.audit.events`, '-', '+');
        return entries.map(([, flat]) => {
          const f: Record<string, string> = {};
          for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
          if (!verifyAuditData(f, env.AUDIT_HMAC_KEY)) throw new Error('audit event with a bad signature');
          return JSON.parse(f.data!);
        });
      } finally {
        r.disconnect();
      }
    },
    restartGateway: async (overrides = {}, o = gatewayOverrides) => {
      await stopOne(gateway);
      gateway = await start('gateway', (c, d, l) => buildGateway(c, d, l, o), gwConfig(overrides));
    },
    stop: async () => {
      for (const r of [gateway, sts, api]) await stopOne(r).catch(() => undefined);
      await upstream.close();
      const r = testRedis();
      await clearPrefix(r, prefix);
      r.disconnect();
      await db.drop();
      rmSync(spillRoot, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Waits until the gateway's revocation snapshot is fresh (it is unready until its first snapshot). */
export async function waitReady(url: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await fetch(`${url}/ready`).then((r) => r.status, () => 0)) === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not become ready`);
}

/** Another instance of a service on the stack's Postgres and Redis (one more process of it, in this one). */
export { start as startService, stopOne as stopService, type Running };
