// A private PostgreSQL server a test may stop, pause (SIGSTOP) and resume, started the way the managed runtime
// starts one (as the `postgres` user when run as root), so outages are never staged on the shared server.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPostgres } from '../apps/runtime/dist/managed/binaries.js';
import { initCluster, managedAdminUrl, startCluster, stopCluster, type ManagedPostgres } from '../apps/runtime/dist/managed/postgres.js';
import { freePort } from './deps.js';
import type { PrivateServer } from './private-redis.js';

/** `url` is the superuser URL of the `postgres` database; pausing stops the postmaster and every backend. */
export type PrivatePostgres = PrivateServer;

export async function privatePostgres(): Promise<PrivatePostgres> {
  const bin = findPostgres(process.env);
  if (!bin) throw new Error('no PostgreSQL binaries were found: apt-get install -y postgresql');
  const base = mkdtempSync(join(tmpdir(), 'caracal-pg-'));
  const pg: ManagedPostgres = {
    bin,
    dataDir: join(base, 'pgdata'),
    logFile: join(base, 'postgres.log'),
    port: await freePort(),
    superuser: 'caracal_test',
    password: randomBytes(16).toString('hex'),
    database: 'postgres',
  };
  await initCluster(pg);
  await startCluster(pg);
  // The postmaster and its children (the backends a pool holds connections to).
  const pids = (): number[] => {
    const main = readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
    const children = execFileSync('pgrep', ['-P', main], { encoding: 'utf8' }).split('\n').filter(Boolean);
    return [main, ...children].map(Number);
  };
  const signal = (sig: NodeJS.Signals) => () => pids().forEach((p) => process.kill(p, sig));
  return {
    url: managedAdminUrl(pg, 'postgres'),
    start: async () => void (await startCluster(pg)),
    stop: async () => void (await stopCluster(pg)),
    pause: signal('SIGSTOP'),
    resume: signal('SIGCONT'),
    remove: async () => {
      await stopCluster(pg).catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
