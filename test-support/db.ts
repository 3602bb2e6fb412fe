// A fresh database (and role prefix) per test file, dropped afterwards with every role it created.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  name: string;
  adminUrl: string;
  rolePrefix: string;
  /** URL of the same server as another user/password. */
  urlAs: (user: string, password: string) => string;
  drop: () => Promise<void>;
}

export function serverUrl(): string {
  return inject('pgUrl');
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query<T>(sql, params);
  } finally {
    await c.end();
  }
}

/** `base` is another server's superuser URL (a private server); the shared test server by default. */
export async function createTestDatabase(label = 't', base = serverUrl()): Promise<TestDatabase> {
  const name = `caracal_${label}_${randomBytes(5).toString('hex')}`;
  await adminQuery(base, `CREATE DATABASE ${name}`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  const adminUrl = u.toString();
  const urlAs = (user: string, password: string) => {
    const x = new URL(adminUrl);
    x.username = user;
    x.password = password;
    return x.toString();
  };
  return {
    name,
    adminUrl,
    rolePrefix: name,
    urlAs,
    drop: () => dropDatabaseAndRoles(base, name, name),
  };
}

export async function dropDatabaseAndRoles(baseUrl: string, name: string, rolePrefix: string): Promise<void> {
  await adminQuery(baseUrl, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
  await adminQuery(baseUrl, `DROP DATABASE IF EXISTS ${name}`);
  const roles = await adminQuery<{ rolname: string }>(baseUrl, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`${rolePrefix}\\_%`]);
  for (const r of roles.rows) await adminQuery(baseUrl, `DROP ROLE IF EXISTS "${r.rolname}"`);
}

export interface MigratedDatabase extends TestDatabase {
  /** Connection URL of a service's own role. */
  roleUrl: (service: 'api' | 'coordinator' | 'sts' | 'gateway' | 'audit') => string;
}

/** A fresh database with every migration applied and a random password per service role. */
export async function createMigratedDatabase(label = 'm', base?: string): Promise<MigratedDatabase> {
  const { loadMigrations, runMigrations, roleName, SERVICE_NAMES } = await import('../packages/db/dist/index.js');
  const db = await createTestDatabase(label, base);
  const passwords = Object.fromEntries(SERVICE_NAMES.map((s: string) => [s, randomBytes(16).toString('hex')])) as Record<string, string>;
  await runMigrations({
    adminUrl: db.adminUrl,
    files: loadMigrations(new URL('../infra/postgres/migrations', import.meta.url).pathname),
    rolePrefix: db.rolePrefix,
    rolePasswords: passwords,
  });
  return { ...db, roleUrl: (service) => db.urlAs(roleName(db.rolePrefix, service), passwords[service]!) };
}
