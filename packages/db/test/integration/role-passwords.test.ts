// Service-role logins after migrating (R-MIG-3, R-DB-2): a SCRAM password per role, least-privilege attributes, re-application.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, serverUrl, type TestDatabase } from '../../../../test-support/db.js';
import { loadMigrations, roleName, runMigrations, SERVICE_NAMES, type ServiceName } from '../../src/index.js';
import { MIGRATIONS_DIR, newPasswords, type Passwords } from './migrated-db.js';
import { databaseOn, passwordServer, type PasswordServer } from './password-server.js';

const FILES = loadMigrations(MIGRATIONS_DIR);
let server: PasswordServer;
let db: TestDatabase;
let passwords: Passwords;
const extraDbs: TestDatabase[] = [];

const role = (s: ServiceName, d: TestDatabase = db) => roleName(d.rolePrefix, s);
const migrate = (d: TestDatabase, rolePasswords: Partial<Passwords>) =>
  runMigrations({ adminUrl: d.adminUrl, files: FILES, rolePrefix: d.rolePrefix, rolePasswords });

/** Logs in and reports who the server says we are; rejects with the server's error on failure. */
async function loginAs(url: string): Promise<{ user: string; db: string; search_path: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const r = await client.query(`SELECT current_user AS user, current_database() AS db, current_setting('search_path') AS search_path`);
    return r.rows[0];
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function loginError(url: string): Promise<{ code: string; message: string }> {
  const err = await loginAs(url).then(
    () => undefined,
    (e: { code?: string; message: string }) => e,
  );
  if (!err) throw new Error('the login succeeded');
  return { code: String(err.code), message: err.message };
}

async function attributes(d: TestDatabase) {
  const r = await adminQuery(
    d.adminUrl,
    `SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication, rolinherit
       FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
    [SERVICE_NAMES.map((s) => role(s, d))],
  );
  return r.rows;
}

beforeAll(async () => {
  server = await passwordServer(serverUrl());
  db = await databaseOn(server.adminUrl, 'login');
  passwords = newPasswords();
  await migrate(db, passwords);
});

afterAll(async () => {
  try {
    for (const d of [db, ...extraDbs]) await d?.drop();
  } finally {
    await server?.stop();
  }
});

describe.each(SERVICE_NAMES)('the %s role', (service) => {
  it('logs in with its password and lands in its database with search_path caracal', async () => {
    expect(await loginAs(db.urlAs(role(service), passwords[service]))).toEqual({ user: role(service), db: db.name, search_path: 'caracal' });
  });

  it('is refused with a wrong password', async () => {
    const err = await loginError(db.urlAs(role(service), `${passwords[service]}x`));
    expect(err).toEqual({ code: '28P01', message: `password authentication failed for user "${role(service)}"` });
  });

  it("is refused with another role's password", async () => {
    const other = SERVICE_NAMES[(SERVICE_NAMES.indexOf(service) + 1) % SERVICE_NAMES.length]!;
    expect((await loginError(db.urlAs(role(service), passwords[other]))).code).toBe('28P01');
  });

});

describe('after migrating', () => {
  it('every service role is LOGIN but NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION', async () => {
    const rows = await attributes(db);
    expect(rows.map((r) => r.rolname)).toEqual(SERVICE_NAMES.map((s) => role(s)).sort());
    for (const r of rows) {
      expect(r).toEqual({ ...r, rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false });
    }
  });

  it('stores a SCRAM-SHA-256 verifier, never the plaintext, with a distinct salt per role', async () => {
    const r = await adminQuery<{ rolname: string; rolpassword: string }>(
      db.adminUrl,
      'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)',
      [SERVICE_NAMES.map((s) => role(s))],
    );
    expect(r.rows).toHaveLength(SERVICE_NAMES.length);
    for (const row of r.rows) {
      expect(row.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
      for (const pw of Object.values(passwords)) expect(row.rolpassword).not.toContain(pw);
    }
    expect(new Set(r.rows.map((x) => x.rolpassword.split('$')[1])).size).toBe(SERVICE_NAMES.length);
  });

  it('a role left out of rolePasswords is created NOLOGIN and cannot log in', async () => {
    const other = await databaseOn(server.adminUrl, 'nologin');
    extraDbs.push(other);
    await migrate(other, { api: 'api-only-password' });
    const rows = await attributes(other);
    expect(rows.filter((r) => r.rolcanlogin).map((r) => r.rolname)).toEqual([role('api', other)]);
    expect((await loginError(other.urlAs(role('gateway', other), 'anything'))).code).toMatch(/^28/);
    expect((await loginAs(other.urlAs(role('api', other), 'api-only-password'))).user).toBe(role('api', other));
  });

  it("another installation's service role cannot connect to this database even with its valid password", async () => {
    const other = await databaseOn(server.adminUrl, 'foreign');
    extraDbs.push(other);
    await migrate(other, { api: 'foreign-api' });
    expect((await loginAs(other.urlAs(role('api', other), 'foreign-api'))).db).toBe(other.name); // control
    const err = await loginError(db.urlAs(role('api', other), 'foreign-api'));
    expect(err.code).toBe('42501');
    expect(err.message).toContain(`permission denied for database "${db.name}"`);
  });

  // Last: it rotates the passwords the tests above use.
  it('a re-run applies new passwords (old ones stop working) and drags hand-edited attributes back', async () => {
    await adminQuery(db.adminUrl, `ALTER ROLE "${role('api')}" CREATEDB CREATEROLE BYPASSRLS`);
    await adminQuery(db.adminUrl, `ALTER ROLE "${role('gateway')}" NOLOGIN`);
    const old = passwords;
    passwords = newPasswords();
    const result = await migrate(db, passwords);
    expect(result.applied).toEqual([]);
    for (const s of SERVICE_NAMES) {
      expect((await loginError(db.urlAs(role(s), old[s]))).code).toBe('28P01');
      expect((await loginAs(db.urlAs(role(s), passwords[s]))).user).toBe(role(s));
    }
    for (const r of await attributes(db)) {
      expect(r).toEqual({ ...r, rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false });
    }
  });
});
