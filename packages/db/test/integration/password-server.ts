// A Postgres that demands passwords, for the login tests: the shared test server may trust local connections, and
// there a wrong password would be accepted. Falls back to a private scram-only cluster; fails if it cannot start one.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { adminQuery, dropDatabaseAndRoles, type TestDatabase } from '../../../../test-support/db.js';
import { freePort } from '../../../../test-support/deps.js';

const exec = promisify(execFile);

export interface PasswordServer {
  adminUrl: string;
  stop: () => Promise<void>;
}

export async function passwordServer(given: string): Promise<PasswordServer> {
  if (await refusesWrongPassword(given)) return { adminUrl: given, stop: async () => undefined };
  return privateScramCluster();
}

async function refusesWrongPassword(url: string): Promise<boolean> {
  const u = new URL(url);
  u.password = randomBytes(12).toString('hex');
  const client = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code === '28P01') return true;
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function findBindir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  throw new Error('the test Postgres accepts wrong passwords and no initdb was found to start one that does not: apt-get install -y postgresql');
}

const idOf = async (flag: '-u' | '-g') => Number((await exec('id', [flag, 'postgres'])).stdout.trim());

async function privateScramCluster(): Promise<PasswordServer> {
  const bindir = findBindir();
  const base = mkdtempSync(join(tmpdir(), 'caracal-scram-pg-'));
  const data = join(base, 'data');
  const password = randomBytes(16).toString('hex');
  const port = await freePort();
  // initdb refuses to run as root; the cluster then belongs to the postgres user.
  const root = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]) => (root ? exec('runuser', ['-u', 'postgres', '--', cmd, ...args]) : exec(cmd, args));
  const owner = root ? { uid: await idOf('-u'), gid: await idOf('-g') } : undefined;
  if (owner) chownSync(base, owner.uid, owner.gid);
  const pwfile = join(base, 'pw');
  writeFileSync(pwfile, password, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  try {
    await as(join(bindir, 'initdb'), ['-D', data, '-U', 'caracal_test', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '-N']);
  } finally {
    rmSync(pwfile, { force: true });
  }
  const opts = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off`;
  await as(join(bindir, 'pg_ctl'), ['-D', data, '-l', join(base, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
  return {
    adminUrl: `postgres://caracal_test:${password}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await as(join(bindir, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Like test-support's createTestDatabase, on a server of our choosing. */
export async function databaseOn(serverAdminUrl: string, label: string): Promise<TestDatabase> {
  const name = `caracal_${label}_${randomBytes(5).toString('hex')}`;
  await adminQuery(serverAdminUrl, `CREATE DATABASE ${name}`);
  const adminUrl = Object.assign(new URL(serverAdminUrl), { pathname: `/${name}` }).toString();
  return {
    name,
    adminUrl,
    rolePrefix: name,
    urlAs: (user, password) => Object.assign(new URL(adminUrl), { username: user, password }).toString(),
    drop: () => dropDatabaseAndRoles(serverAdminUrl, name, name),
  };
}
