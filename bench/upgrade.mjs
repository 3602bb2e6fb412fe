// bench/upgrade: `caracal upgrade` under load, and what a plain `down`/`up` costs under the same load (same run).
// Builds release A of this checkout and derives B from it (one expand migration that B's services use), installs A
// with installers/install.sh, starts it, and drives paced mixed traffic over kept-alive connections for the whole
// upgrade: client_credentials and token-exchange POSTs at the STS, and gateway calls (each with a fresh single-use
// mandate) to a local upstream. Every request carries its own x-request-id; afterwards each answered request's audit
// event is looked up in the ledger, and `caracal audit verify` checks every chain. Prints a JSON summary (also
// written to bench/out/upgrade.json); exits non-zero when the system misbehaved (an upgrade that fails, lost requests).
// Usage: pnpm bench:upgrade [--rate N] [--connections N] [--settle S]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { deriveRelease, labelMigration, readsLabel, releaseVersion } from './lib/derive-release.mjs';
import { arg } from './lib/load.mjs';
import { exchangeBody, exchangeHeaders, freePorts, machine, Misbehaviour, onCleanup, REPO, RESOURCE, runBench, SCOPE, sleep, source, startUpstream, UPSTREAM_CREDENTIAL, writeOut } from './lib/stack.mjs';

const RATE = arg('--rate', 250);
const CONNECTIONS = arg('--connections', 16);
const SETTLE_S = arg('--settle', 3);
const APPS = 8;
const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];
const TARGETS = { rps: 200, connection_errors: 0, unexpected_non_2xx: 0, audit_missing: 0, upgrade_s: 30 };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Runs a command without blocking the event loop (the traffic keeps its pace meanwhile). */
function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', (e) => resolve({ code: 1, stdout, stderr: `${stderr}${e.message}` }));
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Release A of this checkout (signed with a throwaway key) and B derived from it. */
async function releases(dir) {
  await run(process.execPath, [join(REPO, 'scripts/release/main.mjs'), 'keygen', '--out', join(dir, 'key')]);
  const key = { privateFile: join(dir, 'key/caracal-release.key'), publicFile: join(dir, 'key/caracal-release.pub') };
  const built = await run(process.execPath, [join(REPO, 'scripts/release/main.mjs'), '--key', key.privateFile, '--key-pub', key.publicFile, '--out', join(dir, 'releases')], { cwd: REPO });
  if (built.code !== 0) throw new Error(`release build failed: ${built.stderr.slice(-500)}`);
  const a = built.stdout.trim();
  const [major, minor] = releaseVersion(a).split('.').map(Number);
  const next = Math.max(...readdirSync(join(REPO, 'infra/postgres/migrations')).filter((f) => /^\d{4}_.*\.up\.sql$/.test(f)).map((f) => Number(f.slice(0, 4)))) + 1;
  const b = await deriveRelease({ from: a, outParent: join(dir, 'releases'), version: `${major}.${minor + 1}.0`, key, migrations: [labelMigration(next)], patch: readsLabel });
  return { key, a, b };
}

/** A installed under `prefix` with the installer; its CLI runs every later command, as an operator's would. */
async function installA(dir, rel) {
  const prefix = join(dir, 'prefix');
  const inst = await run('sh', [join(REPO, 'installers/install.sh'), '--from', rel.a, '--prefix', prefix, '--key', rel.key.publicFile], { env: { PATH: process.env.PATH, HOME: dir, TMPDIR: dir } });
  if (inst.code !== 0) throw new Error(`install.sh failed: ${inst.stderr}`);
  const env = { PATH: process.env.PATH, NO_COLOR: '1', CI: '1', CARACAL_HOME: join(dir, 'home') };
  const cli = (...args) => run(join(prefix, 'bin/caracal'), args, { env, timeout: 300_000 });
  const ports = await freePorts([...SERVICES, 'pg', 'redis']);
  const init = await cli('init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis), ...SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`]));
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  onCleanup(() => cli('purge', 'all', '--yes'));
  const up = await cli('up');
  if (up.code !== 0) throw new Error(`up failed: ${up.stderr}`);
  const url = Object.fromEntries(SERVICES.map((s) => [s, `http://127.0.0.1:${ports[s]}`]));
  return { cli, url, home: env.CARACAL_HOME, adminToken: readFileSync(join(env.CARACAL_HOME, 'secrets/caracalAdminToken'), 'utf8').trim() };
}

async function admin(stack, path, body) {
  const res = await fetch(`${stack.url.api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 201 && res.status !== 200) throw new Misbehaviour(`POST ${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return res.json();
}

async function provision(stack, upstreamUrl) {
  await admin(stack, '/v1/zones', { slug: 'bench', name: 'Upgrade benchmark' });
  await admin(stack, '/v1/zones/bench/resources', { identifier: RESOURCE, upstream_url: upstreamUrl, credential: UPSTREAM_CREDENTIAL, operations: [{ method: 'GET', path: '/*', scope: SCOPE }] });
  const apps = [];
  for (let i = 0; i < APPS; i++) {
    const app = await admin(stack, '/v1/zones/bench/applications', { name: `upgrade-${i}` });
    await admin(stack, '/v1/zones/bench/grants', { application: app.client_id, resource: RESOURCE, scopes: [SCOPE] });
    apps.push(app);
  }
  return apps;
}

/**
 * Paced open-loop traffic at `RATE` requests/s over kept-alive connections. Of every 10 requests: 2 client_credentials
 * (whose session mandates feed the exchanges), 4 exchanges (whose mandates feed the gateway calls), 4 gateway calls.
 */
function traffic(stack, apps, phase) {
  const sts = new Pool(stack.url.sts, { connections: CONNECTIONS, keepAliveTimeout: 60_000 });
  const gw = new Pool(stack.url.gateway, { connections: CONNECTIONS, keepAliveTimeout: 60_000 });
  const sessions = [];
  const mandates = [];
  const records = [];
  let n = 0;
  let stopping = false;
  const inFlight = new Set();
  const send = async (kind, pool, req, onBody) => {
    const id = `bench-${phase}-${++n}`;
    const rec = { id, kind, status: null, error: null };
    records.push(rec);
    try {
      const res = await pool.request({ ...req, headers: { ...req.headers, 'x-request-id': id } });
      const text = await res.body.text();
      rec.status = res.statusCode;
      if (res.statusCode === 200) onBody?.(text);
    } catch (e) {
      rec.error = e.code ?? e.message;
    }
  };
  const basic = (app) => `Basic ${Buffer.from(`${encodeURIComponent(app.client_id)}:${encodeURIComponent(app.client_secret)}`).toString('base64')}`;
  const one = (slot) => {
    const app = apps[slot % apps.length];
    if (slot % 10 < 2 || sessions.length === 0) {
      return send('client_credentials', sts, { method: 'POST', path: '/oauth/2/token', headers: { ...FORM, authorization: basic(app) }, body: 'grant_type=client_credentials' }, (t) => {
        sessions.push(JSON.parse(t).access_token);
        if (sessions.length > APPS) sessions.shift();
      });
    }
    if (slot % 10 < 6 || mandates.length === 0) {
      return send('token_exchange', sts, { method: 'POST', path: '/oauth/2/token', headers: exchangeHeaders, body: exchangeBody(sessions[slot % sessions.length]) }, (t) => mandates.push(JSON.parse(t).access_token));
    }
    return send('gateway', gw, { method: 'GET', path: '/bench/items', headers: { authorization: `Bearer ${mandates.shift()}` } });
  };
  const started = performance.now();
  let slot = 0;
  const timer = setInterval(() => {
    if (stopping) return;
    const due = Math.floor(((performance.now() - started) / 1000) * RATE);
    while (slot < due) {
      const p = one(slot++);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }, 5);
  return {
    stop: async () => {
      stopping = true;
      clearInterval(timer);
      const offeredSeconds = (performance.now() - started) / 1000;
      await Promise.all([...inFlight]);
      const seconds = (performance.now() - started) / 1000;
      await Promise.all([sts.close(), gw.close()]);
      return { records, seconds, offeredSeconds };
    },
  };
}

function summarize({ records, seconds, offeredSeconds }) {
  const non2xx = {};
  const errors = {};
  for (const r of records) {
    if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
    else if (r.status < 200 || r.status > 299) non2xx[`${r.kind}:${r.status}`] = (non2xx[`${r.kind}:${r.status}`] ?? 0) + 1;
  }
  const byKind = {};
  for (const r of records) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
  return {
    sent: records.length,
    seconds: Math.round(seconds * 10) / 10,
    // requests sent per second while sending, and answered per second until the last answer came
    offered_rps: Math.round(records.length / offeredSeconds),
    rps: Math.round(records.filter((r) => r.status !== null).length / seconds),
    by_kind: byKind,
    connection_errors: Object.values(errors).reduce((a, b) => a + b, 0),
    connection_error_kinds: errors,
    non_2xx: Object.values(non2xx).reduce((a, b) => a + b, 0),
    non_2xx_kinds: non2xx,
  };
}

/** Answered (2xx) requests whose audit event never reached the ledger, waiting up to 60 s for ingest to catch up. */
async function auditMissing(stack, records) {
  const want = new Set(records.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.id));
  const client = new pg.Client({ connectionString: readFileSync(join(stack.home, 'secrets/databaseUrl'), 'utf8').trim() });
  await client.connect();
  try {
    let missing = want.size;
    for (let waited = 0; waited <= 60; waited += 2) {
      const found = await client.query('SELECT DISTINCT request_id FROM caracal.audit_events WHERE request_id = ANY($1::text[])', [[...want]]);
      missing = want.size - found.rowCount;
      if (missing === 0) break;
      await sleep(2000);
    }
    return { expected: want.size, missing };
  } finally {
    await client.end();
  }
}

/** Traffic for the whole of `action`, plus `SETTLE_S` before and after it. */
async function underLoad(stack, apps, phase, action) {
  const load = traffic(stack, apps, phase);
  await sleep(SETTLE_S * 1000);
  const t0 = performance.now();
  const outcome = await action();
  const wall = (performance.now() - t0) / 1000;
  await sleep(SETTLE_S * 1000);
  const done = await load.stop();
  return { wall_s: Math.round(wall * 10) / 10, outcome, ...summarize(done), audit: await auditMissing(stack, done.records) };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'caracal-bench-upgrade-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'releases'));
  const rel = await releases(dir);
  const stack = await installA(dir, rel);
  const upstream = await startUpstream();
  const apps = await provision(stack, upstream.url);

  const upgrade = await underLoad(stack, apps, 'upgrade', () => stack.cli('upgrade', '--from', rel.b, '--key', rel.key.publicFile, '--yes', '--json'));
  const verifyAfterUpgrade = await stack.cli('audit', 'verify', '--json');
  const bVersion = releaseVersion(rel.b);
  const runtime = JSON.parse(readFileSync(join(stack.home, 'runtime.json'), 'utf8'));
  const downUp = await underLoad(stack, apps, 'down-up', async () => {
    const down = await stack.cli('down');
    const up = await stack.cli('up');
    return { code: down.code || up.code, stdout: '', stderr: `${down.stderr}${up.stderr}` };
  });
  const verifyAfterDownUp = await stack.cli('audit', 'verify', '--json');
  const verified = (r) => {
    const ok = r.code === 0 && JSON.parse(r.stdout || '{}').ok === true;
    return { exit_code: r.code, ok, ...(ok ? {} : { output_tail: `${r.stdout.slice(-400)}${r.stderr.slice(-400)}` }) };
  };
  const phase = (p) => ({ ...p, outcome: { exit_code: p.outcome.code, ...(p.outcome.code !== 0 ? { stderr_tail: p.outcome.stderr.slice(-600) } : {}) } });
  const result = {
    bench: 'upgrade',
    ...source(),
    machine: machine(),
    releases: { a: releaseVersion(rel.a), b: bVersion },
    load: { rate_target: RATE, connections_per_origin: CONNECTIONS, settle_s: SETTLE_S, mix: '2 client_credentials : 4 token exchanges : 4 gateway calls' },
    targets: TARGETS,
    upgrade: { ...phase(upgrade), runtime_after: runtime.version, audit_verify: verified(verifyAfterUpgrade) },
    down_up: { ...phase(downUp), audit_verify: verified(verifyAfterDownUp) },
  };
  writeOut('upgrade', result);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  await upstream.stop();
  if (upgrade.outcome.code !== 0) throw new Misbehaviour(`caracal upgrade exited ${upgrade.outcome.code}: ${upgrade.outcome.stderr.slice(-600)}`);
  if (runtime.version !== bVersion) throw new Misbehaviour(`runtime.json says ${runtime.version} after the upgrade, not ${bVersion}`);
  if (upgrade.connection_errors > 0 || upgrade.non_2xx > 0 || upgrade.audit.missing > 0) throw new Misbehaviour('requests were lost during the upgrade (see the summary)');
  if (!result.upgrade.audit_verify.ok || !result.down_up.audit_verify.ok) throw new Misbehaviour('`caracal audit verify` found a break');
}

runBench(main);
