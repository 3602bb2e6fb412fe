// Helpers for the supervisor suites: install roots built from this checkout (with stand-in services where a test
// needs them), processes found by their command line, and keep-alive traffic that records every failure.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { expect } from 'vitest';
import { caracal, REPO, tempHome } from '../../../../test-support/cli.js';
import { createTestDatabase, type TestDatabase } from '../../../../test-support/db.js';
import { freePort } from '../../../../test-support/deps.js';
import { clearPrefix, redisUrl, testRedis, uniquePrefix } from '../../../../test-support/redis.js';
import { layout, type HomeLayout } from '../../src/home/paths.js';
import { tcpSocketInodes } from '../../src/stack/port-holders.js';

export const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'] as const;
export type Service = (typeof SERVICES)[number];
const FIXTURES = join(import.meta.dirname, 'fixtures');

export interface ExternalStack {
  dir: string;
  /** CARACAL_HOME (and whatever a suite adds) for the CLI. */
  env: Record<string, string>;
  home: HomeLayout;
  ports: Record<Service, number>;
  url: (service: Service) => string;
  /** `caracal init` on free ports with a fresh database and Redis key prefix (external both). */
  init: () => Promise<void>;
  /** `caracal down`, then the prefix, the database and the temporary directory go. */
  remove: () => Promise<void>;
}

export function externalStack(label: string): ExternalStack {
  const tmp = tempHome(label);
  const env: Record<string, string> = { CARACAL_HOME: join(tmp.dir, 'h') };
  const prefix = uniquePrefix(label);
  const ports = {} as Record<Service, number>;
  let db: TestDatabase | undefined;
  return {
    dir: tmp.dir,
    env,
    home: layout(env.CARACAL_HOME!, false),
    ports,
    url: (service) => `http://127.0.0.1:${ports[service]}`,
    init: async () => {
      db = await createTestDatabase(label);
      const dbFile = join(tmp.dir, 'db-url');
      writeFileSync(dbFile, db.adminUrl, { mode: 0o600 });
      for (const s of SERVICES) ports[s] = await freePort();
      const flags = ['--database-url-file', dbFile, '--redis-key-prefix', prefix, ...SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`])];
      const init = await caracal(['init', '--yes', ...flags], { ...env, CARACAL_REDIS_URL: redisUrl() });
      expect(init.exitCode, init.stderr).toBe(0);
    },
    remove: async () => {
      await caracal(['down'], env);
      const redis = testRedis();
      await clearPrefix(redis, prefix);
      redis.disconnect();
      await db?.drop();
      tmp.remove();
    },
  };
}

/**
 * An install root at `dir` that runs this checkout's supervisor and migrations, labelled `version`; each service's
 * entry is the real service, or the named stand-in from fixtures/ (`worker` keeps the worker contract only).
 */
export function installRoot(dir: string, version: string, services: Partial<Record<Service, 'real' | 'worker' | 'never-ready' | 'exiting'>>, fallback: 'real' | 'worker'): string {
  mkdirSync(join(dir, 'apps', 'runtime'), { recursive: true });
  writeFileSync(join(dir, 'apps', 'runtime', 'package.json'), JSON.stringify({ name: '@caracal/runtime', version, type: 'module' }));
  symlinkSync(join(REPO, 'apps', 'runtime', 'dist'), join(dir, 'apps', 'runtime', 'dist'));
  symlinkSync(join(REPO, 'infra'), join(dir, 'infra'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  mkdirSync(join(dir, 'services'));
  for (const s of SERVICES) {
    const kind = services[s] ?? fallback;
    if (kind === 'real') {
      symlinkSync(join(REPO, 'services', s), join(dir, 'services', s));
    } else {
      mkdirSync(join(dir, 'services', s, 'dist'), { recursive: true });
      copyFileSync(join(FIXTURES, `${kind}-service.mjs`), join(dir, 'services', s, 'dist', 'main.js'));
    }
  }
  return dir;
}

/** PIDs whose command line contains `needle`. */
export function pidsRunning(needle: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0; // a zombie has none
  } catch {
    return false;
  }
}

/** The inode of each socket a process holds, by fd: `{ '3': '53057', … }`. */
export function socketInodes(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out[fd] = m[1]!;
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Call {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface TrafficReport {
  sent: number;
  /** Transport failures (resets, refused connections, hang-ups) with their code. */
  errors: string[];
  /** Answers by status, all targets together and per target base URL. */
  statuses: Record<number, number>;
  perBase: Record<string, Record<number, number>>;
  /** Non-2xx answers (the first few). */
  failures: string[];
  /** Bodies of the answers (the first 50,000). */
  bodies: string[];
}

export type Send = (base: string, c: Call) => Promise<Answer | undefined>;

/**
 * `connections` loops, each running `step` again as soon as its previous run finished; every request goes over
 * kept-alive connections (one agent per base URL, reusing sockets) and is recorded. Stop resolves the report.
 */
export function trafficLoops(connections: number, step: (send: Send) => Promise<void>): { stop: () => Promise<TrafficReport>; report: TrafficReport } {
  const agents = new Map<string, http.Agent>();
  const report: TrafficReport = { sent: 0, errors: [], statuses: {}, perBase: {}, failures: [], bodies: [] };
  let running = true;
  const send: Send = (base, c) =>
    new Promise((resolve) => {
      let agent = agents.get(base);
      if (!agent) agents.set(base, (agent = new http.Agent({ keepAlive: true, maxSockets: connections, keepAliveMsecs: 1000 })));
      report.sent++;
      const failed = (err: NodeJS.ErrnoException) => {
        report.errors.push(`${base}${c.path}: ${err.code ?? err.message}`);
        resolve(undefined);
      };
      const req = http.request(`${base}${c.path}`, { method: c.method ?? 'GET', headers: c.headers, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('error', failed);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          report.statuses[status] = (report.statuses[status] ?? 0) + 1;
          const mine = (report.perBase[base] ??= {});
          mine[status] = (mine[status] ?? 0) + 1;
          if (status >= 300 && report.failures.length < 10) report.failures.push(`${base}${c.path} ${status} ${body.slice(0, 300)}`);
          if (report.bodies.length < 50_000) report.bodies.push(body);
          resolve({ status, headers: res.headers, body });
        });
      });
      req.on('error', failed);
      req.end(c.body);
    });
  const loops = Array.from({ length: connections }, async () => {
    while (running) await step(send);
  });
  return {
    report,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      for (const a of agents.values()) a.destroy();
      return report;
    },
  };
}

/** The same request to one base URL in `connections` loops. */
export function keepAliveTraffic(base: string, call: () => Call, connections = 8) {
  return trafficLoops(connections, async (send) => void (await send(base, call())));
}

/** The socket inode of the server side of a TCP connection: local port `serverPort`, remote port `clientPort`. */
function serverSideInode(serverPort: number, clientPort: number): string | undefined {
  return [...tcpSocketInodes((local, remote) => local === serverPort && remote === clientPort).keys()][0];
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface PinnedConnection {
  /** The worker process that accepted this connection. */
  pid: number;
  /** A request on this same connection (fails if the connection was not reused). */
  call: (c: Call) => Promise<Answer>;
  close: () => void;
}

/**
 * Opens a kept-alive connection to `base` and finds which of `pids` accepted it (the process holding the server
 * side of the connection), so a test can tell a service's workers apart without the service saying who it is.
 */
export async function pinnedConnection(base: string, pids: readonly number[]): Promise<PinnedConnection> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (c: Call, first: boolean) =>
    new Promise<Answer & { clientPort: number }>((resolve, reject) => {
      const req = http.request(`${base}${c.path}`, { method: c.method ?? 'GET', headers: c.headers, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, clientPort: req.socket?.localPort ?? 0 }));
      });
      req.on('error', reject);
      if (!first) req.on('socket', () => void (req.reusedSocket || reject(new Error('the pinned connection was not reused'))));
      req.end(c.body);
    });
  const hello = await send({ path: '/health' }, true);
  const serverPort = Number(new URL(base).port);
  const inode = serverSideInode(serverPort, hello.clientPort);
  const pid = pids.find((p) => inode !== undefined && Object.values(socketInodes(p)).includes(inode));
  if (pid === undefined) {
    agent.destroy();
    throw new Error(`no worker of ${base} holds the connection from port ${hello.clientPort}`);
  }
  return { pid, call: (c) => send(c, false), close: () => agent.destroy() };
}

/** Pinned connections until every one of `pids` was reached once (at most `tries` connections); one per worker. */
export async function oneConnectionPerWorker(base: string, pids: readonly number[], tries = 100): Promise<Map<number, PinnedConnection>> {
  const found = new Map<number, PinnedConnection>();
  for (let i = 0; i < tries && found.size < pids.length; i++) {
    const c = await pinnedConnection(base, pids);
    if (found.has(c.pid)) c.close();
    else found.set(c.pid, c);
  }
  if (found.size < pids.length) throw new Error(`only ${found.size} of ${pids.length} workers of ${base} accepted a connection in ${tries} tries`);
  return found;
}
