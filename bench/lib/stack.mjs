// bench/lib/stack: what the authority-path benchmarks share — a throwaway `caracal up` stack, admin-API provisioning, STS minting, a local upstream, cleanup and bench/out output.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

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

export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** The system misbehaved (as opposed to being slow): the script exits non-zero. */
export class Misbehaviour extends Error {}

// ---- cleanup: every process a benchmark starts is registered here and stopped in reverse order, even on failure.
const cleanups = [];
export const onCleanup = (fn) => cleanups.push(fn);
export async function cleanup() {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${err.message}`);
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
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
    console.error(err instanceof Misbehaviour ? `MISBEHAVIOUR: ${err.message}` : err);
    code = 1;
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

/** `caracal init` + `caracal up` in a temp CARACAL_HOME on free ports; purged at cleanup. */
export async function startStack(label) {
  const home = mkdtempSync(join(tmpdir(), `caracal-bench-${label}-`));
  const env = { CARACAL_HOME: join(home, 'h') };
  const ports = {};
  for (const n of [...SERVICES, 'pg', 'redis']) ports[n] = await freePort();
  onCleanup(() => rmSync(home, { recursive: true, force: true }));
  caracal(['init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis), ...SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`])], env);
  onCleanup(() => caracal(['purge', 'all', '--yes'], env));
  caracal(['up'], env);
  const url = Object.fromEntries(SERVICES.map((s) => [s, `http://127.0.0.1:${ports[s]}`]));
  const adminToken = readFileSync(join(env.CARACAL_HOME, 'secrets/caracalAdminToken'), 'utf8').trim();
  const pids = () => {
    const state = JSON.parse(readFileSync(join(env.CARACAL_HOME, 'data/supervisor.json'), 'utf8'));
    return Object.fromEntries(SERVICES.map((s) => [s, state.services[s].pid]));
  };
  return { home: env.CARACAL_HOME, url, adminToken, pids };
}

async function call(method, url, { headers = {}, body, expect = [200, 201] } = {}) {
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

/** One zone, `apps` applications each granted items:read on resource://bench, whose upstream is `upstreamUrl`. */
export async function provision(stack, { apps, upstreamUrl, slug = 'bench' }) {
  await admin(stack, 'POST', '/v1/zones', { slug, name: `Benchmark ${slug}` });
  await admin(stack, 'POST', `/v1/zones/${slug}/resources`, {
    identifier: RESOURCE,
    upstream_url: upstreamUrl,
    credential: UPSTREAM_CREDENTIAL,
    operations: [{ method: 'GET', path: '/*', scope: SCOPE }],
  });
  const created = [];
  for (let i = 0; i < apps; i++) {
    const app = await admin(stack, 'POST', `/v1/zones/${slug}/applications`, { name: `bench-${i}` });
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
  onCleanup(async () => {
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
  return { child, ...JSON.parse(line) };
}

/** The tiny upstream (bench/lib/upstream.mjs) in its own process. */
export async function startUpstream() {
  const up = await spawnNode('bench/lib/upstream.mjs');
  return { ...up, url: `http://127.0.0.1:${up.port}` };
}

export async function upstreamStats(upstream) {
  return call('GET', `${upstream.url}/__stats`, { expect: [200] });
}

/** CPU seconds (user+sys) a process has used so far, from /proc. */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
