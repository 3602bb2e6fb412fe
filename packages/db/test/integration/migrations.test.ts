// The migration runner against real Postgres (R-MIG-1, R-MIG-2): order, re-runs, the advisory lock, rollback, checksums, contract gating.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { adminQuery, createTestDatabase, type TestDatabase } from '../../../../test-support/db.js';
import { AUTHORITY_CHANNEL, loadMigrations, MIGRATION_LOCK_KEY, MigrationError, runMigrations, type MigrationFile, type RunOptions } from '../../src/index.js';
import { MIGRATIONS_DIR } from './migrated-db.js';

const REAL = loadMigrations(MIGRATIONS_DIR);
const REAL_NAMES = REAL.map((f) => f.file);
const dbs: TestDatabase[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  const failed = (await Promise.allSettled(dbs.map((db) => db.drop()))).filter((r) => r.status === 'rejected');
  if (failed.length > 0) throw (failed[0] as PromiseRejectedResult).reason;
});

async function freshDb(): Promise<TestDatabase> {
  const db = await createTestDatabase('mig');
  dbs.push(db);
  return db;
}

/** A copy of the real migrations plus `extra` files (a file of the same name replaces the real one). */
function migrationsWith(extra: Record<string, string>): { dir: string; files: () => MigrationFile[] } {
  const dir = mkdtempSync(join(tmpdir(), 'caracal-migrations-'));
  dirs.push(dir);
  for (const f of readdirSync(MIGRATIONS_DIR)) if (f.endsWith('.sql')) copyFileSync(join(MIGRATIONS_DIR, f), join(dir, f));
  for (const [name, sql] of Object.entries(extra)) writeFileSync(join(dir, name), sql);
  return { dir, files: () => loadMigrations(dir) };
}

const run = (db: TestDatabase, files: readonly MigrationFile[], more: Partial<RunOptions> = {}) =>
  runMigrations({ adminUrl: db.adminUrl, files, rolePrefix: db.rolePrefix, ...more });

async function recorded(db: TestDatabase): Promise<Array<{ version: number; name: string; sha256: string; phase: string }>> {
  const r = await adminQuery(db.adminUrl, 'SELECT version, name, sha256, phase FROM caracal.schema_migrations ORDER BY version');
  return r.rows as Array<{ version: number; name: string; sha256: string; phase: string }>;
}

async function exists(db: TestDatabase, relation: string): Promise<boolean> {
  const r = await adminQuery<{ t: string | null }>(db.adminUrl, 'SELECT to_regclass($1)::text AS t', [relation]);
  return r.rows[0]!.t !== null;
}

async function columnExists(db: TestDatabase, table: string, column: string): Promise<boolean> {
  const r = await adminQuery(db.adminUrl, `SELECT 1 FROM information_schema.columns WHERE table_schema = 'caracal' AND table_name = $1 AND column_name = $2`, [table, column]);
  return r.rowCount === 1;
}

async function migrationError(p: Promise<unknown>): Promise<MigrationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MigrationError);
  return err as MigrationError;
}

describe('a fresh database', () => {
  it('gets every file applied in order, each recorded with its checksum and phase', async () => {
    const db = await freshDb();
    const order: string[] = [];
    const result = await run(db, REAL, { onApplied: (f) => order.push(f.file) });
    expect(result).toEqual({ applied: REAL_NAMES, skipped: [], pendingContract: [] });
    expect(order).toEqual(REAL_NAMES);
    expect(await recorded(db)).toEqual(REAL.map((f) => ({ version: f.version, name: f.name, sha256: f.sha256, phase: 'expand' })));
    for (const t of ['caracal.zones', 'caracal.grants', 'caracal.audit_events', 'caracal.admin_audit_events']) expect(await exists(db, t)).toBe(true);

    const before = await adminQuery(db.adminUrl, 'SELECT version, applied_at FROM caracal.schema_migrations ORDER BY version');
    const again = await run(db, REAL);
    expect(again).toEqual({ applied: [], skipped: REAL_NAMES, pendingContract: [] });
    const after = await adminQuery(db.adminUrl, 'SELECT version, applied_at FROM caracal.schema_migrations ORDER BY version');
    expect(after.rows).toEqual(before.rows);
  });

  it('two runners started together apply each file exactly once', async () => {
    const db = await freshDb();
    const results = await Promise.all([run(db, REAL), run(db, REAL)]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual(REAL_NAMES);
    expect(results.map((r) => r.skipped.length).sort()).toEqual([0, REAL.length]);
    expect((await recorded(db)).map((r) => r.name)).toEqual(REAL.map((f) => f.name));
  });

  it('a runner waits while another session holds the migration lock, and touches nothing meanwhile', async () => {
    const db = await freshDb();
    const holder = new pg.Client({ connectionString: db.adminUrl });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const pending = run(db, REAL);
      let waiting = false;
      for (let i = 0; i < 100 && !waiting; i++) {
        const r = await holder.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'caracal-migrate' AND wait_event = 'advisory'`,
        );
        waiting = r.rowCount === 1;
        if (!waiting) await new Promise((res) => setTimeout(res, 50));
      }
      expect(waiting).toBe(true);
      expect(await exists(db, 'caracal.schema_migrations')).toBe(false);
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      expect((await pending).applied).toEqual(REAL_NAMES);
    } finally {
      await holder.end();
    }
  });
});

describe('the authority channel', () => {
  it("each file announces '*' when it commits, so STS processes empty their views; a failed file announces nothing", async () => {
    const db = await freshDb();
    const listener = new pg.Client({ connectionString: db.adminUrl });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`));
    try {
      await listener.query(`LISTEN ${AUTHORITY_CHANNEL}`);
      const set = migrationsWith({ '0099_create_broken.up.sql': 'SELECT * FROM caracal.no_such_table;\n' });
      await migrationError(run(db, set.files()));
      // A round trip on the listening connection delivers whatever was committed before it.
      await listener.query('SELECT 1');
      expect(heard).toEqual(REAL.map(() => `${AUTHORITY_CHANNEL}:*`));
    } finally {
      await listener.end();
    }
  });
});

describe('a migration that fails halfway', () => {
  const BROKEN = '0099_create_broken.up.sql';

  it('is rolled back entirely, not recorded, and named in a MigrationError; earlier files stay applied', async () => {
    const db = await freshDb();
    const set = migrationsWith({
      [BROKEN]: 'CREATE TABLE caracal.broken_half (id int);\nINSERT INTO caracal.broken_half VALUES (1);\nSELECT * FROM caracal.no_such_table;\n',
    });
    const err = await migrationError(run(db, set.files()));
    expect(err.file).toBe(BROKEN);
    expect(err.message).toMatch(/^0099_create_broken\.up\.sql failed and was rolled back: .*no_such_table/);
    expect(await exists(db, 'caracal.broken_half')).toBe(false);
    expect((await recorded(db)).map((r) => r.name)).toEqual(REAL.map((f) => f.name));
    expect(await exists(db, 'caracal.zones')).toBe(true);

    // Once the file is corrected, only it is applied.
    writeFileSync(join(set.dir, BROKEN), 'CREATE TABLE caracal.broken_half (id int);\n');
    expect(await run(db, set.files())).toEqual({ applied: [BROKEN], skipped: REAL_NAMES, pendingContract: [] });
  });

  it('an unknown template token fails as a MigrationError naming the file, before anything of it runs', async () => {
    const db = await freshDb();
    const file = '0099_grant_stranger.up.sql';
    const set = migrationsWith({ [file]: 'CREATE TABLE caracal.granted (id int);\nGRANT SELECT ON caracal.granted TO {{role.admin}};\n' });
    const err = await migrationError(run(db, set.files()));
    expect(err.file).toBe(file);
    expect(err.message).toContain('{{role.admin}}');
    expect(await exists(db, 'caracal.granted')).toBe(false);
    expect((await recorded(db)).length).toBe(REAL.length);
  });
});

describe('an applied file changed afterwards', () => {
  it.each([
    ['an appended comment', (sql: string) => `${sql}\n-- edited\n`],
    ['a whitespace change', (sql: string) => sql.replace(/\n/, '\n\n')],
  ])('(%s) makes the runner refuse before applying anything later', async (_label, edit) => {
    const db = await freshDb();
    await run(db, REAL);
    const victim = REAL[1]!.file;
    const set = migrationsWith({
      [victim]: edit(readFileSync(join(MIGRATIONS_DIR, victim), 'utf8')),
      '0095_create_later.up.sql': 'CREATE TABLE caracal.later (id int);\n',
    });
    const err = await migrationError(run(db, set.files()));
    expect(err.file).toBe(victim);
    expect(err.message).toContain(`${victim} was changed after it was applied`);
    expect(await exists(db, 'caracal.later')).toBe(false);
    expect((await recorded(db)).map((r) => r.sha256)).toEqual(REAL.map((f) => f.sha256));
  });
});

describe('contract migrations', () => {
  const CONTRACT = '0095_drop_zone_disabled.up.sql';
  const AFTER = '0096_create_after_contract.up.sql';
  const files = () =>
    migrationsWith({
      [CONTRACT]: '-- Drops zones.disabled_at.\n-- caracal:phase contract\n\nALTER TABLE caracal.zones DROP COLUMN disabled_at;\n',
      [AFTER]: 'CREATE TABLE caracal.after_contract (id int);\n',
    }).files();

  it('wait without allowContract, and every later file waits with them', async () => {
    const db = await freshDb();
    const set = files();
    expect(await run(db, set)).toEqual({ applied: REAL_NAMES, skipped: [], pendingContract: [CONTRACT, AFTER] });
    expect(await run(db, set)).toEqual({ applied: [], skipped: REAL_NAMES, pendingContract: [CONTRACT, AFTER] });
    expect(await columnExists(db, 'zones', 'disabled_at')).toBe(true);
    expect(await exists(db, 'caracal.after_contract')).toBe(false);
    expect((await recorded(db)).length).toBe(REAL.length);
  });

  it('run, in order, with allowContract', async () => {
    const db = await freshDb();
    const set = files();
    await run(db, set);
    const applied: string[] = [];
    const result = await run(db, set, { allowContract: true, onApplied: (f) => applied.push(f.file) });
    expect(result).toEqual({ applied: [CONTRACT, AFTER], skipped: REAL_NAMES, pendingContract: [] });
    expect(applied).toEqual([CONTRACT, AFTER]);
    expect(await columnExists(db, 'zones', 'disabled_at')).toBe(false);
    expect((await recorded(db)).slice(-2).map((r) => [r.name, r.phase])).toEqual([
      ['0095_drop_zone_disabled', 'contract'],
      ['0096_create_after_contract', 'expand'],
    ]);
  });
});

describe('the expand-only guard', () => {
  it.each([
    ['DROP COLUMN across lines, lower case', 'alter table caracal.zones\n  drop\n  column disabled_at;\n', 'DROP COLUMN'],
    ['DROP COLUMN without the COLUMN keyword', 'ALTER TABLE caracal.zones DROP disabled_at;\n', 'DROP COLUMN'],
    ['DROP TABLE', 'DROP TABLE caracal.outbox;\n', 'DROP TABLE'],
    ['RENAME', 'ALTER TABLE caracal.zones RENAME COLUMN name TO title;\n', 'RENAME'],
    ['ALTER COLUMN … TYPE', 'ALTER TABLE caracal.zones ALTER COLUMN name TYPE varchar(10);\n', 'ALTER COLUMN ... TYPE'],
    ['SET NOT NULL', 'ALTER TABLE caracal.zones ALTER COLUMN disabled_at SET NOT NULL;\n', 'SET NOT NULL'],
    ['a contract header below the first statement', 'SELECT 1;\n-- caracal:phase contract\nALTER TABLE caracal.zones DROP COLUMN disabled_at;\n', 'DROP COLUMN'],
  ])('refuses %s in an expand file before touching the database', async (_label, sql, construct) => {
    const db = await freshDb();
    const file = '0095_alter_zones.up.sql';
    const err = await migrationError(run(db, migrationsWith({ [file]: sql }).files()));
    expect(err.file).toBe(file);
    expect(err.message).toContain(`${file}:`);
    expect(err.message).toContain(`${construct} needs the header '-- caracal:phase contract'`);
    // Not even the valid earlier files ran: the guard judges the whole set first.
    const r = await adminQuery<{ s: string | null }>(db.adminUrl, `SELECT to_regnamespace('caracal')::text AS s`);
    expect(r.rows[0]!.s).toBeNull();
    const roles = await adminQuery(db.adminUrl, `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)`, [`${db.rolePrefix}_`]);
    expect(roles.rows).toEqual([]);
  });
});
