// `caracal up`: provision, preflight, start Postgres/Redis (managed) or check external ones, migrate (expand),
// start the services under the supervisor (which holds their sockets), and wait until every service answers
// ready and every worker told the supervisor it is ready (R-RT-1).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadMigrations, runMigrations } from '@caracal/db';
import { redactUrl } from '@caracal/logging';
import { CliError } from '../errors.js';
import { acquireLock } from '../home/lock.js';
import { readSecret } from '../home/secret-files.js';
import { readRuntimeInfo, writeRuntimeInfo } from '../home/runtime-json.js';
import { workerCounts } from '../home/settings.js';
import { initCluster, startCluster } from '../managed/postgres.js';
import { runProcess } from '../managed/run.js';
import { startRedis } from '../managed/redis.js';
import { adminDatabaseUrl, homeLayout, isInitialised, loadContext, managedPostgres, managedRedis, serviceUrl, services, type StackContext } from '../stack/context.js';
import { renderDerivedFiles, rolePasswords } from '../stack/derived.js';
import { checkPorts, checkSecretModes, ensureBinaries } from '../stack/preflight.js';
import { READY_POLL_MS, waitForAll, type ProbeResult } from '../stack/probe.js';
import { pickRoot } from '../stack/install-root.js';
import { releaseSupervisor, runningSupervisor, waitForWorkers } from '../stack/supervisor-control.js';
import { startSupervisor, stopSupervisor } from '../stack/supervisor-process.js';
import { cliVersion, migrationsDir } from '../version.js';
import { docker } from './doctor.js';
import { runInit } from './init.js';
import type { Io } from './io.js';

export interface UpOptions {
  json?: boolean;
  install?: boolean;
  timeout?: number;
}

export interface UpReport {
  home: string;
  endpoints: Record<string, string>;
  migrations: { applied: string[]; pendingContract: string[] };
  elapsedMs: number;
}

export async function runUp(opts: UpOptions, io: Io): Promise<UpReport> {
  const started = Date.now();
  const home = homeLayout(io.env);
  mkdirSync(home.root, { recursive: true, mode: 0o700 });
  const lock = acquireLock(home.lockFile, 'up');
  try {
    if (!isInitialised(home)) io.out.info('not initialised yet: running `caracal init --yes`');
    // Idempotent: creates what is missing (secrets, empty ones again), re-renders derived files.
    await runInit({ yes: true }, io);
    return await upLocked(loadContext(io.env), opts, io, started);
  } finally {
    lock.release();
  }
}

async function upLocked(cliCtx: StackContext, opts: UpOptions, io: Io, started: number): Promise<UpReport> {
  const { out } = io;
  // A bad CARACAL_<SERVICE>_WORKERS (caracal.env or this environment) is refused before anything starts.
  const workers = workerCounts(cliCtx.settings, cliCtx.env);
  const picked = pickRoot(cliCtx, cliVersion());
  const ctx: StackContext = { ...cliCtx, root: picked.root };
  if (ctx.settings.CARACAL_RUNTIME === 'compose') {
    // Say which part is missing (CLI/plugin vs daemon) before saying what this release can do.
    const d = await docker(runProcess, ctx.env, true);
    const why = d.level === 'ok' ? 'Docker is available, but' : `${d.detail}; and`;
    throw new CliError(`CARACAL_RUNTIME=compose: ${why} the compose runtime is not part of this release`, 1, 'set CARACAL_RUNTIME=local in caracal.env');
  }
  checkSecretModes(ctx);
  await out.step('preflight', async () => {
    await ensureBinaries(ctx, opts.install !== false, out.info);
    if (!runningSupervisor(ctx.home)) {
      // Services orphaned by a supervisor that died would hold their ports: stop them before checking.
      const { leftovers } = await stopSupervisor(ctx.home, { ports: ctx.settings.ports });
      if (leftovers > 0) out.info(`  stopped ${leftovers} service process(es) left by a supervisor that died`);
      await checkPorts(ctx, true);
    }
  });

  // A supervisor this run starts is started held, before Postgres and the migrations: its workers load their code
  // meanwhile, and only once the schema is current do they read their configuration, connect and take requests.
  renderDerivedFiles(ctx);
  const running = runningSupervisor(ctx.home);
  if (running) {
    out.info(`services already supervised (PID ${running.pid})`);
    for (const [name, st] of Object.entries(running.services)) {
      const want = workers[name as keyof typeof workers];
      if (want !== undefined && want !== st.desired) out.info(`  ${name} runs ${st.desired} worker(s); ${want} take effect when the stack restarts`);
    }
  } else {
    if (picked.fromRuntimeJson) out.info(`starting ${picked.version} from ${picked.root} (runtime.json; newer than this CLI's ${cliVersion()})`);
    await out.step('start services (held until migrated)', () => startSupervisor(ctx, { held: true }));
  }
  let migrated: Awaited<ReturnType<typeof runMigrations>>;
  try {
    migrated = await prepareData(ctx, io);
  } catch (err) {
    // Nothing this run started is left behind: its held workers never connected or took a request.
    if (!running) await stopSupervisor(ctx.home, { ports: ctx.settings.ports }).catch(() => undefined);
    throw err;
  }
  if (migrated.pendingContract.length > 0) out.warn(`contract migrations are pending (the contract step of \`caracal upgrade\` applies them): ${migrated.pendingContract.join(', ')}`);
  // Also releases a supervisor an earlier `up` started held and did not get to release (it was interrupted).
  const supervisor = runningSupervisor(ctx.home);
  if (!supervisor) throw new CliError('the supervisor stopped while Postgres, Redis and the migrations were prepared', 1, `see ${join(ctx.home.logsDir, 'supervisor.log')}; \`caracal up\` starts it again`);
  if (supervisor.held) await out.step('release services', () => releaseHeld(ctx));

  const targets = services.map((service) => ({ service, url: serviceUrl(ctx, service) }));
  const deadlineMs = (opts.timeout ?? 120) * 1000;
  const waitStart = Date.now();
  let lastReport = 0;
  const results = await out.step('wait for readiness', () =>
    waitForAll(targets, '/ready', {
      intervalMs: READY_POLL_MS,
      deadlineMs,
      onPending: (pending, elapsed) => {
        if (elapsed - lastReport < 5000) return;
        lastReport = elapsed;
        out.info(`  still waiting on: ${describe(pending)}`);
      },
    }),
  );
  const pending = results.filter((r) => !r.ok);
  const hint = 'see `caracal logs <service>`; the stack keeps running, `caracal down` stops it';
  if (pending.length > 0) {
    const hints = pending.map((r) => `  ${r.service}: ${r.reason ?? 'not ready'}${lastLogLine(ctx, r.service)}`).join('\n');
    throw new CliError(`not every service became ready within ${deadlineMs / 1000} s:\n${hints}`, 1, hint);
  }
  const workersPending = await out.step('wait for every worker', () => waitForWorkers(ctx.home, Math.max(deadlineMs - (Date.now() - waitStart), 1000)));
  if (workersPending.length > 0) throw new CliError(`not every worker became ready within ${deadlineMs / 1000} s: ${workersPending.join(', ')}`, 1, hint);
  // What the supervisor runs is recorded; a stack already running keeps the runtime.json it was started or
  // upgraded with.
  const now = runningSupervisor(ctx.home);
  if (!running || !readRuntimeInfo(ctx.home.runtimeJson)) writeRuntimeInfo(ctx.home.runtimeJson, now?.version ?? picked.version, now?.root ?? picked.root);
  return {
    home: ctx.home.root,
    endpoints: Object.fromEntries(targets.map((t) => [t.service, t.url])),
    migrations: { applied: migrated.applied, pendingContract: migrated.pendingContract },
    elapsedMs: Date.now() - started,
  };
}

/** Postgres and Redis started (managed) or checked (external), then the expand migrations. */
async function prepareData(ctx: StackContext, io: Io) {
  const { out } = io;
  if (ctx.settings.CARACAL_DATABASE === 'managed') {
    const p = managedPostgres(ctx);
    await out.step('managed Postgres', async () => {
      if (await initCluster(p)) out.info(`  created cluster in ${p.dataDir}`);
      await startCluster(p);
    });
  } else {
    await out.step('external Postgres', () => checkPostgres(adminDatabaseUrl(ctx)));
  }
  if (ctx.settings.CARACAL_REDIS === 'managed') await out.step('managed Redis', () => startRedis(managedRedis(ctx)));
  else await out.step('external Redis', () => checkRedis(readSecret(ctx.home.secretsDir, 'redisUrl')));
  return out.step('migrations (expand)', () =>
    runMigrations({
      adminUrl: adminDatabaseUrl(ctx),
      files: loadMigrations(migrationsDir(ctx.root)),
      rolePrefix: ctx.settings.CARACAL_DB_ROLE_PREFIX,
      rolePasswords: rolePasswords(ctx),
    }),
  );
}

async function releaseHeld(ctx: StackContext): Promise<void> {
  const reply = await releaseSupervisor(ctx.home);
  if (!reply.ok) throw new CliError(`the supervisor did not let its workers start: ${reply.detail}`, 1, 'see `caracal logs supervisor`; `caracal down` stops the stack');
}

function describe(pending: ProbeResult[]): string {
  return pending.map((p) => `${p.service} (${p.reason ?? 'not ready'})`).join(', ');
}

function lastLogLine(ctx: StackContext, service: string): string {
  try {
    const lines = readFileSync(join(ctx.home.logsDir, `${service}.log`), 'utf8').trim().split('\n');
    const last = lines[lines.length - 1];
    return last ? `\n    last log line: ${last.slice(0, 300)}` : '';
  } catch {
    return '';
  }
}

async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === '28P01' || code === '28000' ? 'authentication failed (wrong credentials)' : code === '3D000' ? 'database does not exist' : (err as Error).message;
    throw new CliError(`external Postgres ${redactUrl(url)} is not usable: ${why}`, 1, 'check the URL given at `caracal init` (secrets/externalDatabaseUrl)');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(url: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5000 });
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    throw new CliError(`external Redis ${redactUrl(url)} is not usable: ${(err as Error).message}`, 1, 'check the URL given at `caracal init` (secrets/externalRedisUrl)');
  } finally {
    r.disconnect();
  }
}

export function printUp(report: UpReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(report);
  io.out.info(`stack ready in ${(report.elapsedMs / 1000).toFixed(1)} s`);
  for (const [service, url] of Object.entries(report.endpoints)) io.out.data(`${service.padEnd(12)} ${url}`);
}
