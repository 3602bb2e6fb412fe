// `caracal down [--volumes]`: drain the services (the supervisor sends every worker SIGTERM; each finishes what it
// holds and exits), stop anything a dead supervisor left behind, then managed Redis and Postgres.
import { rmSync } from 'node:fs';
import { acquireLock } from '../home/lock.js';
import { stopCluster } from '../managed/postgres.js';
import { stopRedis } from '../managed/redis.js';
import { CliError, UsageError } from '../errors.js';
import { homeLayout, isInitialised, loadContext, managedPostgres, managedRedis } from '../stack/context.js';
import { stopSupervisor } from '../stack/supervisor-process.js';
import { confirmTyped } from './confirm.js';
import type { Io } from './io.js';

export interface DownOptions {
  volumes?: boolean;
  yes?: boolean;
  json?: boolean;
}

export interface DownReport {
  services: 'stopped' | 'not running';
  postgres: 'stopped' | 'not running' | 'external';
  redis: 'stopped' | 'not running' | 'external';
  removed: string[];
}

export async function runDown(opts: DownOptions, io: Io): Promise<DownReport> {
  if (!isInitialised(homeLayout(io.env))) return { services: 'not running', postgres: 'not running', redis: 'not running', removed: [] };
  const ctx = loadContext(io.env);
  if (opts.volumes && !opts.yes) {
    if (!io.out.interactive) throw new UsageError('--volumes deletes all managed data; add --yes to confirm non-interactively');
    await confirmTyped(io, 'delete', 'This deletes the managed Postgres and Redis data');
  }
  const lock = acquireLock(ctx.home.lockFile, 'down');
  try {
    const sup = await io.out.step('stop services', () => stopSupervisor(ctx.home, { ports: ctx.settings.ports }));
    const report: DownReport = {
      services: sup.stopped || sup.leftovers > 0 ? 'stopped' : 'not running',
      postgres: 'external',
      redis: 'external',
      removed: [],
    };
    if (ctx.settings.CARACAL_REDIS === 'managed') {
      report.redis = (await io.out.step('stop managed Redis', () => stopRedis(managedRedis(ctx)))) ? 'stopped' : 'not running';
    }
    if (ctx.settings.CARACAL_DATABASE === 'managed') {
      report.postgres = (await io.out.step('stop managed Postgres', () => stopCluster(managedPostgres(ctx)))) ? 'stopped' : 'not running';
    }
    if (opts.volumes) {
      for (const dir of [ctx.home.redisDir, ctx.home.postgresBase]) {
        try {
          rmSync(dir, { recursive: true, force: true });
          report.removed.push(dir);
        } catch (err) {
          throw new CliError(`could not remove ${dir}: ${(err as Error).message}`);
        }
      }
    }
    return report;
  } finally {
    lock.release();
  }
}

export function printDown(r: DownReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(r);
  if (r.services === 'not running' && r.postgres !== 'stopped' && r.redis !== 'stopped') io.out.data('nothing was running');
  else io.out.data(`services: ${r.services}; postgres: ${r.postgres}; redis: ${r.redis}`);
  for (const d of r.removed) io.out.data(`removed ${d}`);
}
