// bench/lib/stack: what the authority-path benchmarks share — a throwaway `caracal up` stack, admin-API provisioning, STS minting, a local upstream, cleanup and bench/out output.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import pg from 'pg';

export const REPO = new URL('../..', import.meta.url).pathname;
const CLI = join(REPO, 'apps/runtime/bin/caracal.js');
const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];
export const RESOURCE = 'resource://bench';
export const SCOPE = 'items:read';
export const UPSTREAM_CREDENTIAL = 'upstream-secret';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const machine = () => ({ cpus: cpus().length, node: process.version });

/** The commit measured, and whether system code differs from it (the services run the built dist/ of the tree). */
export function source() {
  const git = (args) => execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const dirty = git(['status', '--porcelain', '--', 'apps', 'services', 'packages', 'infra']).split('\n').filter(Boolean).length;
    return { commit: git(['rev-parse', '--short', 'HEAD']), system_files_changed_since_commit: dirty };
  } catch {
    return { commit: 'unknown' };
  }
}

/** Free loopback ports, one per name, all different: each stays bound until every one is chosen. */
export async function freePorts(names) {
  const servers = [];
  try {
    for (let i = 0; i < names.length; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise((resolve, reject) => s.once('error', reject).listen(0, '127.0.0.1', resolve));
    }
    return Object.fromEntries(names.map((n, i) => [n, servers[i].address().port]));
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => (s.listening ? s.close(r) : r()))));
  }
}

export const freePort = async () => (await freePorts(['port'])).port;

/** The system misbehaved (as opposed to being slow): the script exits non-zero. */
export class Misbehaviour extends Error {}

// ---- cleanup: every process a benchmark starts is registered here and stopped in reverse order, even on failure.
const cleanups = [];
/** Registers a cleanup step; the returned function runs it early (once) and takes it off the list. */
export function onCleanup(fn) {
  const entry = { fn };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await fn();
  };
}
let cleaning;
let interrupted = false;
/** Runs every registered cleanup once, newest first; concurrent callers share the same pass. */
export function cleanup() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const { fn } = cleanups.pop();
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup: ${err.message}`);
      }
    }
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    interrupted = true;
    console.error(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Runs a benchmark's main with cleanup; a Misbehaviour or any crash exits non-zero, slow figures never do. */
export async function runBench(main) {
  let code = 0;
  try {
    await main();
  } catch (err) {
    if (!interrupted) console.error(err instanceof Misbehaviour ? `MISBEHAVIOUR: ${err.message}` : err);
    code = interrupted ? 130 : 1;
  } finally {
    await cleanup();
  }
  process.exit(code);
}

export function writeOut(name, result) {
  mkdirSync(join(REPO, 'bench/out'), { recursive: true });
  writeFileSync(join(REPO, `bench/out/${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

// ---- the stack
function caracal(args, env) {
  execFileSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A secret of the stack's CARACAL_HOME. */
export const secret = (home, name) => readFileSync(join(home, 'secrets', name), 'utf8').trim();

/**
 * ANALYZE as the database's owner once a benchmark's rows are in: the statistics autovacuum gathers within its first
 * minute on a fresh stack. Until then a plan made for the near-empty tables of setup (and kept by each connection)
 * scans a whole zone through its zone_id index where a key lookup is meant; ANALYZE invalidates those plans.
 */
export async function analyze(stack) {
  const db = new pg.Client({ connectionString: secret(stack.home, 'databaseUrl') });
  await db.connect();
  try {
    await db.query('ANALYZE');
  } finally {
    await db.end();
  }
}

/** `caracal init` + `caracal up` in a temp CARACAL_HOME on free ports; purged at cleanup. */
export async function startStack(label) {
  const home = mkdtempSync(join(tmpdir(), `caracal-bench-${label}-`));
  const env = { CARACAL_HOME: join(home, 'h') };
  const ports = await freePorts([...SERVICES, 'pg', 'redis']);
  onCleanup(() => rmSync(home, { recursive: true, force: true }));
  caracal(['init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis), ...SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`])], env);
  const purge = onCleanup(() => caracal(['purge', 'all', '--yes'], env));
  caracal(['up'], env);
  const url = Object.fromEntries(SERVICES.map((s) => [s, `http://127.0.0.1:${ports[s]}`]));
  const adminToken = readFileSync(join(env.CARACAL_HOME, 'secrets/caracalAdminToken'), 'utf8').trim();
  const pids = () => {
    const state = JSON.parse(readFileSync(join(env.CARACAL_HOME, 'data/supervisor.json'), 'utf8'));
    return Object.fromEntries(SERVICES.map((s) => [s, state.services[s].workers.map((w) => w.pid).filter(Boolean)]));
  };
  return { home: env.CARACAL_HOME, ports, url, adminToken, pids, purge };
}

/** One JSON call; an answer outside `expect` is a Misbehaviour. */
export async function call(method, url, { headers = {}, body, expect = [200, 201] } = {}) {
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Misbehaviour(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

export function admin(stack, method, path, body) {
  return call(method, `${stack.url.api}${path}`, {
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
}

/**
 * One zone, `apps` applications each granted items:read on resource://bench, whose upstream is `upstreamUrl`;
 * `labels(i)`, when given, is the i-th application's labels.
 */
export async function provision(stack, { apps, upstreamUrl, slug = 'bench', labels }) {
  await admin(stack, 'POST', '/v1/zones', { slug, name: `Benchmark ${slug}` });
  await admin(stack, 'POST', `/v1/zones/${slug}/resources`, {
    identifier: RESOURCE,
    upstream_url: upstreamUrl,
    credential: UPSTREAM_CREDENTIAL,
    operations: [{ method: 'GET', path: '/*', scope: SCOPE }],
  });
  const created = [];
  for (let i = 0; i < apps; i++) {
    const app = await admin(stack, 'POST', `/v1/zones/${slug}/applications`, { name: `bench-${i}`, ...(labels ? { labels: labels(i) } : {}) });
    await admin(stack, 'POST', `/v1/zones/${slug}/grants`, { application: app.client_id, resource: RESOURCE, scopes: [SCOPE] });
    created.push({ client_id: app.client_id, client_secret: app.client_secret });
  }
  return { slug, apps: created };
}

// ---- minting (never timed)
const tokenUrl = (stack) => `${stack.url.sts}/oauth/2/token`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** client_credentials bootstrap → a session mandate. */
export async function bootstrap(stack, app) {
  const basic = Buffer.from(`${encodeURIComponent(app.client_id)}:${encodeURIComponent(app.client_secret)}`).toString('base64');
  const res = await call('POST', tokenUrl(stack), { headers: { ...FORM, authorization: `Basic ${basic}` }, body: 'grant_type=client_credentials', expect: [200] });
  return res.access_token;
}

/** The RFC 8693 form that exchanges a session mandate for a gateway mandate (also the STS benchmark's request). */
export const exchangeBody = (sessionToken) =>
  new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: sessionToken, subject_token_type: ACCESS_TOKEN, resource: RESOURCE, scope: SCOPE }).toString();
export const exchangeHeaders = FORM;

export async function exchange(stack, sessionToken) {
  return (await call('POST', tokenUrl(stack), { headers: FORM, body: exchangeBody(sessionToken), expect: [200] })).access_token;
}

/** Mints `count` gateway mandates, spreading the work over the given session mandates (one per application keeps
 *  each (zone, resource, client) under the STS mint rate limit). */
export async function mintMany(stack, sessions, count, concurrency = 16) {
  const out = new Array(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) out[i] = await exchange(stack, sessions[i % sessions.length]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

export const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

// ---- child processes
/** Spawns `node <script> …args` and waits for its first stdout line, which must be JSON ({port, …}). */
export async function spawnNode(script, args = [], env = {}) {
  const child = spawn(process.execPath, [join(REPO, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const stop = onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    const onData = (chunk) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      child.stdout.resume(); // anything later is drained, never blocks the child
      resolve(buf.slice(0, nl));
    };
    const onExit = (code) => reject(new Error(`${script} exited (${code}) before it was ready`));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
  return { child, stop, ...JSON.parse(line) };
}

/** The tiny upstream (bench/lib/upstream.mjs) in its own process. */
export async function startUpstream() {
  const up = await spawnNode('bench/lib/upstream.mjs');
  return { ...up, url: `http://127.0.0.1:${up.port}` };
}

export async function upstreamStats(upstream) {
  return call('GET', `${upstream.url}/__stats`, { expect: [200] });
}

// ---- CPU accounting from /proc, to show where the cores went during a timed phase
const CLK_TCK = 100;

function procTable() {
  const rows = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      // utime stime cutime cstime: reaped children (e.g. finished postgres backends) stay counted in cutime/cstime
      const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      rows.push({ pid: Number(name), ppid: Number(f[1]), ticks, cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      // the process ended while we looked
    }
  }
  return rows;
}

/** CPU seconds used so far by the processes matching `pred` and all their descendants. */
export function treeCpuSeconds(pred) {
  const rows = procTable();
  const roots = new Set(rows.filter(pred).map((r) => r.pid));
  const byPid = new Map(rows.map((r) => [r.pid, r]));
  const inTree = (r) => {
    for (let x = r, depth = 0; x !== undefined && depth < 64; x = byPid.get(x.ppid), depth++) if (roots.has(x.pid)) return true;
    return false;
  };
  return rows.filter(inTree).reduce((a, r) => a + r.ticks, 0) / CLK_TCK;
}

export const cpuSeconds = (pid) => treeCpuSeconds((r) => r.pid === pid);

/** CPU seconds used so far by the Redis server listening on `port` (found by its command line). */
export const redisServerCpu = (port) => treeCpuSeconds((r) => r.cmdline.includes('redis-server') && r.cmdline.trim().endsWith(`:${port}`));

/** CPU meters for a stack's processes: the services named, the rest of the services, and managed Postgres and Redis. */
export function stackCpu(stack, named) {
  const pids = stack.pids();
  // A service's CPU is the sum over its workers.
  const meters = Object.fromEntries(named.map((s) => [s, () => pids[s].reduce((sum, pid) => sum + cpuSeconds(pid), 0)]));
  const rest = SERVICES.filter((s) => !named.includes(s)).flatMap((s) => pids[s]);
  meters.other_services = () => treeCpuSeconds((r) => rest.includes(r.pid));
  meters.postgres = () => treeCpuSeconds((r) => /postgres$/.test(r.cmdline.split(' ')[0]) && r.cmdline.trim().endsWith(` -p ${stack.ports.pg}`));
  meters.redis = () => redisServerCpu(stack.ports.redis);
  return meters;
}
