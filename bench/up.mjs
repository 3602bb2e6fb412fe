// bench/up: cold `caracal up` (fresh home, managed Postgres and Redis) to all-ready, warm `up` after `down`,
// and idle RSS per service. Baselines measured in the same run: bringing up the same Postgres and Redis alone
// (the floor any stack pays) and the RSS of an idle bare Node process.
// Usage: pnpm bench:up [--warm-runs N]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { findPostgres, findRedisServer } from '../apps/runtime/dist/managed/binaries.js';
import { initCluster, startCluster, stopCluster } from '../apps/runtime/dist/managed/postgres.js';
import { startRedis, stopRedis } from '../apps/runtime/dist/managed/redis.js';
import { freePorts, onCleanup } from './lib/stack.mjs';

const REPO = new URL('..', import.meta.url).pathname;
const CLI = join(REPO, 'apps/runtime/bin/caracal.js');
const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];
const warmRuns = Number(process.argv[process.argv.indexOf('--warm-runs') + 1]) || 3;
const TARGETS = { coldS: 3, warmS: 1.5, rssMB: 80 };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssMB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function caracal(args, env) {
  const t0 = process.hrtime.bigint();
  execFileSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function baselineInfra() {
  const dir = mkdtempSync(join(tmpdir(), 'caracal-bench-floor-'));
  const base = await freePorts(['pg', 'redis']);
  const pg = { bin: findPostgres(process.env), dataDir: join(dir, 'pgdata'), logFile: join(dir, 'pg.log'), port: base.pg, superuser: 'bench', password: randomBytes(12).toString('hex'), database: 'bench' };
  const redis = { server: findRedisServer(process.env), dir: join(dir, 'redis'), logFile: join(dir, 'redis.log'), port: base.redis, password: randomBytes(12).toString('hex'), baseConfig: join(REPO, 'infra/redis/redis.conf') };
  let t0 = process.hrtime.bigint();
  await initCluster(pg);
  await Promise.all([startCluster(pg), startRedis(redis)]);
  const cold = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all([stopCluster(pg), stopRedis(redis)]);
  t0 = process.hrtime.bigint();
  await Promise.all([startCluster(pg), startRedis(redis)]);
  const warm = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all([stopCluster(pg), stopRedis(redis)]);
  rmSync(dir, { recursive: true, force: true });
  return { cold, warm };
}

async function bareNodeRss() {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  await sleep(1500);
  const rss = rssMB(child.pid);
  child.kill();
  return rss;
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'caracal-bench-up-'));
  const env = { CARACAL_HOME: join(home, 'h') };
  const ports = await freePorts([...SERVICES, 'pg', 'redis']);
  // Registered with the benchmarks' cleanup so an interrupted run (SIGINT, SIGTERM) stops and removes its stack too.
  const purge = onCleanup(() => {
    try {
      caracal(['purge', 'all', '--yes'], env);
    } catch {
      // best effort
    }
    rmSync(home, { recursive: true, force: true });
  });
  caracal(['init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis), ...SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`])], env);
  try {
    const cold = caracal(['up'], env);
    await sleep(5000); // idle
    const state = JSON.parse(readFileSync(join(env.CARACAL_HOME, 'data/supervisor.json'), 'utf8'));
    // A service's resident memory is the sum over its workers (one each by default).
    const rss = Object.fromEntries(SERVICES.map((s) => [s, state.services[s].workers.reduce((sum, w) => sum + rssMB(w.pid), 0)]));
    const warm = [];
    for (let i = 0; i < warmRuns; i++) {
      caracal(['down'], env);
      warm.push(caracal(['up'], env));
    }
    caracal(['down'], env);
    const floor = await baselineInfra();
    const bare = await bareNodeRss();
    const result = {
      when: new Date().toISOString(),
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      cold_up_s: +cold.toFixed(2),
      warm_up_s_median: +median(warm).toFixed(2),
      warm_up_s_runs: warm.map((w) => +w.toFixed(2)),
      idle_rss_mb: Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, +v.toFixed(1)])),
      baseline: { postgres_redis_cold_s: +floor.cold.toFixed(2), postgres_redis_warm_s: +floor.warm.toFixed(2), bare_node_rss_mb: +bare.toFixed(1) },
    };
    const maxRss = Math.max(...Object.values(rss));
    console.log(JSON.stringify(result, null, 2));
    console.log('');
    console.log(`cold up      ${cold.toFixed(2)} s   target ≤ ${TARGETS.coldS} s   ${(cold / floor.cold).toFixed(2)}× the Postgres+Redis floor (${floor.cold.toFixed(2)} s)`);
    console.log(`warm up      ${median(warm).toFixed(2)} s   target ≤ ${TARGETS.warmS} s   ${(median(warm) / floor.warm).toFixed(2)}× the floor (${floor.warm.toFixed(2)} s)`);
    console.log(`max idle RSS ${maxRss.toFixed(1)} MB  target ≤ ${TARGETS.rssMB} MB  ${(maxRss / bare).toFixed(2)}× a bare Node process (${bare.toFixed(1)} MB)`);
    mkdirSync(join(REPO, 'bench/out'), { recursive: true });
    writeFileSync(join(REPO, 'bench/out/up.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await purge();
  }
}

await main();
