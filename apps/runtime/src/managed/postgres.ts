// Managed PostgreSQL (R-RT-1): a private cluster created with initdb (scram auth, data checksums) and run with
// pg_ctl on a non-default port, as an unprivileged user when the CLI runs as root.
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { CliError } from '../errors.js';
import type { PostgresBinaries } from './binaries.js';
import { portFree } from './ports.js';
import { isRoot, lookupUser, runProcess, type Runner } from './run.js';

export interface ManagedPostgres {
  bin: PostgresBinaries;
  dataDir: string;
  logFile: string;
  port: number;
  superuser: string;
  password: string;
  database: string;
}

const RUN_AS = 'postgres';

function runAs(): string | undefined {
  return isRoot() ? RUN_AS : undefined;
}

export function managedAdminUrl(p: Pick<ManagedPostgres, 'superuser' | 'password' | 'port'>, database: string): string {
  return `postgres://${encodeURIComponent(p.superuser)}:${encodeURIComponent(p.password)}@127.0.0.1:${p.port}/${database}`;
}

function prepareDir(dir: string): { uid: number; gid: number } | undefined {
  // The parents must be traversable by the cluster's owner; the directory itself is private to it.
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (!isRoot()) return undefined;
  const user = lookupUser(RUN_AS);
  if (!user) throw new CliError(`user '${RUN_AS}' does not exist; managed Postgres must not run as root`, 1, 'apt-get install -y postgresql');
  chownSync(dir, user.uid, user.gid);
  return user;
}

export async function initCluster(p: ManagedPostgres, run: Runner = runProcess): Promise<boolean> {
  if (existsSync(join(p.dataDir, 'PG_VERSION'))) return false;
  const base = dirname(p.dataDir);
  const owner = prepareDir(base);
  // The password never goes on argv (R-SEC-2): initdb reads it from a file only the cluster's owner can read,
  // inside a directory only that owner can enter, removed as soon as initdb is done.
  const pwfile = join(base, `.pwfile-${process.pid}`);
  writeFileSync(pwfile, p.password, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  let res;
  try {
    res = await run(
      p.bin.initdb,
      ['-D', p.dataDir, '-U', p.superuser, `--pwfile=${pwfile}`, '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', '--data-checksums', '-E', 'UTF8', '--locale=C'],
      { asUser: runAs() },
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
  if (res.exitCode !== 0) throw new CliError(`initdb failed for ${p.dataDir}: ${lastLine(res.stderr)}`);
  appendFileSync(
    join(p.dataDir, 'postgresql.conf'),
    [
      '',
      '# Caracal managed cluster',
      `port = ${p.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dirname(p.dataDir)}'`,
      "password_encryption = 'scram-sha-256'",
      'max_connections = 200',
      '',
    ].join('\n'),
  );
  return true;
}

export async function clusterRunning(p: ManagedPostgres, run: Runner = runProcess): Promise<boolean> {
  if (!existsSync(join(p.dataDir, 'PG_VERSION'))) return false;
  const res = await run(p.bin.pgCtl, ['-D', p.dataDir, 'status'], { asUser: runAs() });
  return res.exitCode === 0;
}

export async function startCluster(p: ManagedPostgres, run: Runner = runProcess): Promise<'started' | 'running'> {
  if (await clusterRunning(p, run)) return 'running';
  if (!(await portFree(p.port))) throw new CliError(`port ${p.port} (managed Postgres) is already in use`, 1, 'free the port or set CARACAL_PG_PORT in caracal.env');
  const res = await run(p.bin.pgCtl, ['-D', p.dataDir, '-l', p.logFile, '-w', '-t', '60', '-o', `-p ${p.port}`, 'start'], { asUser: runAs() });
  if (res.exitCode !== 0) throw new CliError(`Postgres did not start (see ${p.logFile}): ${lastLine(res.stderr || res.stdout)}`);
  await ensureDatabase(p);
  return 'started';
}

export async function stopCluster(p: ManagedPostgres, run: Runner = runProcess): Promise<boolean> {
  if (!(await clusterRunning(p, run))) return false;
  const res = await run(p.bin.pgCtl, ['-D', p.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop'], { asUser: runAs() });
  if (res.exitCode !== 0) throw new CliError(`Postgres did not stop: ${lastLine(res.stderr || res.stdout)}`);
  return true;
}

async function ensureDatabase(p: ManagedPostgres): Promise<void> {
  const client = new pg.Client({ connectionString: managedAdminUrl(p, 'postgres') });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [p.database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(p.database)}`);
  } finally {
    await client.end();
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? 'no output';
}
