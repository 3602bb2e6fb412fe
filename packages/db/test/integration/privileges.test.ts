// Least privilege per service role (R-DB-2): the grant matrix, append-only audit, no escape from RLS, immutable rows, CONNECT.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery } from '../../../../test-support/db.js';
import { SERVICE_NAMES, withTransaction, withZone, type Pool, type ServiceName } from '../../src/index.js';
import { EXPECTED, UPDATE_COLUMNS, VERBS } from './expected-privileges.js';
import { migratedDatabase, pgError, type MigratedDb } from './migrated-db.js';
import { insertRow, rowFor, seedZone, type ZoneFixture } from './zone-fixtures.js';

let db: MigratedDb;
let A: ZoneFixture;
const pools = new Map<ServiceName, Pool>();
const poolOf = (s: ServiceName) => pools.get(s)!;
const NO_PRIVILEGE = (what: string) => ({ code: '42501', message: `permission denied for ${what}` });

beforeAll(async () => {
  db = await migratedDatabase('priv');
  const admin = new pg.Client({ connectionString: db.adminUrl });
  await admin.connect();
  try {
    A = await seedZone(admin, 'zone-a');
    await seedZone(admin, 'zone-b');
    await admin.query(
      `INSERT INTO caracal.admin_audit_events (seq, actor, action, content_sha256, prev_content_sha256, chain_hmac) VALUES (1, 'admin', 'zone.create', $1, $1, $1)`,
      ['0'.repeat(64)],
    );
  } finally {
    await admin.end();
  }
  for (const s of SERVICE_NAMES) pools.set(s, db.poolAs(s));
});

afterAll(async () => {
  await db?.drop();
});

describe('the grant matrix', () => {
  it.each(SERVICE_NAMES)('%s holds exactly its listed table privileges, on no partition, column or other relation', async (service) => {
    const r = await adminQuery<{ relname: string; verb: string }>(
      db.adminUrl,
      `SELECT c.relname, v.verb
         FROM pg_class c, unnest($2::text[]) AS v(verb)
        WHERE c.relnamespace = 'caracal'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND (has_table_privilege($1, c.oid, v.verb) OR (v.verb <> 'TRUNCATE' AND v.verb <> 'DELETE' AND v.verb <> 'TRIGGER' AND has_any_column_privilege($1, c.oid, v.verb)))
        ORDER BY 1, 2`,
      [db.role(service), [...VERBS, 'TRUNCATE', 'REFERENCES', 'TRIGGER']],
    );
    const actual: Record<string, string[]> = {};
    for (const row of r.rows) (actual[row.relname] ??= []).push(row.verb);
    const expected = Object.fromEntries(Object.entries(EXPECTED[service]).map(([t, verbs]) => [t, [...verbs].sort()]));
    expect(actual).toEqual(expected);
  });

  it.each(SERVICE_NAMES)('%s cannot create objects in the schema or the database, nor temporary tables', async (service) => {
    const r = await adminQuery(
      db.adminUrl,
      `SELECT has_schema_privilege($1, 'caracal', 'CREATE') AS caracal_create, has_schema_privilege($1, 'public', 'CREATE') AS public_create,
              has_database_privilege($1, current_database(), 'CREATE') AS db_create, has_database_privilege($1, current_database(), 'TEMPORARY') AS temp`,
      [db.role(service)],
    );
    expect(r.rows[0]).toEqual({ caracal_create: false, public_create: false, db_create: false, temp: false });
    const err = await pgError(() => withTransaction(poolOf(service), (c) => c.query('CREATE TABLE caracal.smuggled (id int)')));
    expect(err).toEqual(NO_PRIVILEGE('schema caracal'));
  });
});

describe('column-limited UPDATE', () => {
  const limited = Object.entries(UPDATE_COLUMNS).flatMap(([service, tables]) => Object.entries(tables!).map(([table, columns]) => [service as ServiceName, table, columns] as const));

  it.each(limited)('%s may update only the listed columns of %s (never zone_id)', async (service, table, columns) => {
    const r = await adminQuery<{ column_name: string }>(
      db.adminUrl,
      `SELECT a.attname AS column_name FROM pg_attribute a
        WHERE a.attrelid = ('caracal.' || $2)::regclass AND a.attnum > 0 AND NOT a.attisdropped AND has_column_privilege($1, a.attrelid, a.attnum, 'UPDATE')
        ORDER BY 1`,
      [db.role(service), table],
    );
    expect(r.rows.map((x) => x.column_name)).toEqual([...columns].sort());
    expect(await pgError(() => withZone(poolOf(service), A.zoneId, (c) => c.query(`UPDATE caracal.${table} SET zone_id = zone_id`)))).toEqual(NO_PRIVILEGE(`table ${table}`));
  });
});

describe('the audit role', () => {
  const audit = () => poolOf('audit');

  it('appends and reads audit events of its bound zone (control)', async () => {
    const row = rowFor('audit_events', A);
    await withZone(audit(), A.zoneId, (c) => insertRow(c, 'audit_events', row));
    const seen = await withZone(audit(), A.zoneId, (c) => c.query('SELECT zone_id FROM caracal.audit_events WHERE event_id = $1', [row.event_id]));
    expect(seen.rows).toEqual([{ zone_id: A.zoneId }]);
  });

  it.each([
    ['UPDATE', 'UPDATE caracal.audit_events SET reason = $2 WHERE zone_id = $1'],
    ['DELETE', 'DELETE FROM caracal.audit_events WHERE zone_id = $1 AND $2::text IS NOT NULL'],
  ])('cannot %s audit events, even of its own zone', async (_verb, sql) => {
    const before = await adminQuery(db.adminUrl, 'SELECT count(*)::int AS n, count(reason)::int AS r FROM caracal.audit_events');
    const err = await pgError(() => withZone(audit(), A.zoneId, (c) => c.query(sql, [A.zoneId, 'rewritten'])));
    expect(err).toEqual(NO_PRIVILEGE('table audit_events'));
    expect((await adminQuery(db.adminUrl, 'SELECT count(*)::int AS n, count(reason)::int AS r FROM caracal.audit_events')).rows).toEqual(before.rows);
  });

  it('cannot TRUNCATE audit events', async () => {
    const err = await pgError(() => withZone(audit(), A.zoneId, (c) => c.query('TRUNCATE caracal.audit_events')));
    expect(err).toEqual(NO_PRIVILEGE('table audit_events'));
  });

  it.each([
    ['zones', `INSERT INTO caracal.zones (slug, name) VALUES ('evil', 'evil')`],
    ['applications', `INSERT INTO caracal.applications (zone_id, client_id, name, secret_hash, secret_alg) VALUES ($1, 'x', 'x', 'x', 'sha256')`],
    ['admin_audit_events', `INSERT INTO caracal.admin_audit_events (seq, actor, action, zone_id, content_sha256, prev_content_sha256, chain_hmac) VALUES (99, 'a', 'b', $1, '', '', '')`],
  ])('cannot write %s', async (table, sql) => {
    const err = await pgError(() => withZone(audit(), A.zoneId, (c) => c.query(sql, sql.includes('$1') ? [A.zoneId] : [])));
    expect(err).toEqual(NO_PRIVILEGE(`table ${table}`));
  });

  it('keeps months ahead through caracal.audit_ensure_partition, and new rows land in that month', async () => {
    const name = await withZone(audit(), A.zoneId, async (c) => {
      const first = await c.query<{ p: string }>(`SELECT caracal.audit_ensure_partition('2031-05-17') AS p`);
      const again = await c.query<{ p: string }>(`SELECT caracal.audit_ensure_partition('2031-05-01') AS p`);
      expect(again.rows[0]!.p).toBe(first.rows[0]!.p);
      await insertRow(c, 'audit_events', { ...rowFor('audit_events', A), recorded_at: new Date('2031-05-20T12:00:00Z') });
      return first.rows[0]!.p;
    });
    expect(name).toBe('audit_events_2031_05');
    const r = await adminQuery(
      db.adminUrl,
      `SELECT pg_get_expr(c.relpartbound, c.oid) AS bound, pg_get_userbyid(c.relowner) <> $1 AS not_owned_by_audit,
              (SELECT count(*)::int FROM caracal.audit_events_2031_05) AS n
         FROM pg_class c WHERE c.oid = 'caracal.audit_events_2031_05'::regclass`,
      [db.role('audit')],
    );
    expect(r.rows[0]).toEqual({ bound: expect.stringMatching(/FROM \('2031-05-01.*'\) TO \('2031-06-01.*'\)/), not_owned_by_audit: true, n: 1 });
    const direct = await pgError(() => withZone(audit(), A.zoneId, (c) => c.query('SELECT * FROM caracal.audit_events_2031_05')));
    expect(direct).toEqual(NO_PRIVILEGE('table audit_events_2031_05'));
  });

  it.each(SERVICE_NAMES.filter((s) => s !== 'audit'))('%s cannot call caracal.audit_ensure_partition', async (service) => {
    const err = await pgError(() => withTransaction(poolOf(service), (c) => c.query(`SELECT caracal.audit_ensure_partition('2032-01-01')`)));
    expect(err).toEqual(NO_PRIVILEGE('function audit_ensure_partition'));
  });
});

describe.each(SERVICE_NAMES)('the %s role cannot escape RLS', (service) => {
  const readable = service === 'gateway' ? 'revocations' : service === 'audit' ? 'audit_events' : 'applications';
  const adminUser = () => decodeURIComponent(new URL(db.adminUrl).username);

  it('is neither superuser nor BYPASSRLS, by its own account', async () => {
    const r = await poolOf(service).query('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user');
    expect(r.rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
  });

  it(`with row_security off, reading ${readable} errors instead of returning other zones' rows`, async () => {
    const err = await pgError(() =>
      withZone(poolOf(service), A.zoneId, async (c) => {
        await c.query('SET LOCAL row_security = off');
        return c.query(`SELECT zone_id FROM caracal.${readable}`);
      }),
    );
    expect(err).toEqual({ code: '42501', message: `query would be affected by row-level security policy for table "${readable}"` });
  });

  it(`cannot disable or drop RLS on ${readable}`, async () => {
    for (const sql of [`ALTER TABLE caracal.${readable} NO FORCE ROW LEVEL SECURITY`, `DROP POLICY zone_isolation ON caracal.${readable}`]) {
      const err = await pgError(() => withTransaction(poolOf(service), (c) => c.query(sql)));
      expect(err).toEqual({ code: '42501', message: expect.stringMatching(new RegExp(`^must be owner of (table|relation) ${readable}$`)) });
    }
  });

  it('cannot switch off triggers or become the admin', async () => {
    const replica = await pgError(() => withTransaction(poolOf(service), (c) => c.query('SET LOCAL session_replication_role = replica')));
    expect(replica).toEqual({ code: '42501', message: 'permission denied to set parameter "session_replication_role"' });
    const setRole = await pgError(() => withTransaction(poolOf(service), (c) => c.query(`SET LOCAL ROLE ${pg.escapeIdentifier(adminUser())}`)));
    expect(setRole.code).toBe('42501');
  });
});

describe('immutable rows', () => {
  it.each([
    ['policy_set_versions', 'UPDATE caracal.policy_set_versions SET created_by = $1'],
    ['policy_set_versions', 'DELETE FROM caracal.policy_set_versions WHERE $1::text IS NOT NULL'],
    ['admin_audit_events', 'UPDATE caracal.admin_audit_events SET actor = $1'],
    ['admin_audit_events', 'DELETE FROM caracal.admin_audit_events WHERE $1::text IS NOT NULL'],
  ])('%s: "%s" is refused even for the superuser admin', async (table, sql) => {
    const before = await adminQuery(db.adminUrl, `SELECT * FROM caracal.${table} ORDER BY 1`);
    expect(before.rowCount).toBeGreaterThan(0);
    const err = await pgError(() => adminQuery(db.adminUrl, sql, ['tampered']));
    expect(err).toEqual({ code: '42501', message: `${table} rows are immutable` });
    expect((await adminQuery(db.adminUrl, `SELECT * FROM caracal.${table} ORDER BY 1`)).rows).toEqual(before.rows);
  });
});

describe('CONNECT', () => {
  it('a role with LOGIN but no grant on this database cannot connect; granting CONNECT is what lets it in', async () => {
    const stranger = `${db.rolePrefix}_stranger`; // dropped with the database's prefix
    await adminQuery(db.adminUrl, `CREATE ROLE ${stranger} LOGIN PASSWORD 'stranger-pw'`);
    const connect = () => adminQuery(db.urlAs(stranger, 'stranger-pw'), 'SELECT current_user AS u');
    const err = await pgError(connect);
    expect(err.code).toBe('42501');
    expect(err.message).toContain(`permission denied for database "${db.name}"`);
    await adminQuery(db.adminUrl, `GRANT CONNECT ON DATABASE ${db.name} TO ${stranger}`);
    expect((await connect()).rows).toEqual([{ u: stranger }]);
    // Connected, it still reaches nothing: the schema is closed to PUBLIC.
    const denied = await pgError(() => adminQuery(db.urlAs(stranger, 'stranger-pw'), 'SELECT * FROM caracal.zones'));
    expect(denied).toEqual(NO_PRIVILEGE('schema caracal'));
    await adminQuery(db.adminUrl, `REVOKE CONNECT ON DATABASE ${db.name} FROM ${stranger}`);
  });
});
