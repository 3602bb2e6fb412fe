// Zone isolation (R-DB-2, R-DB-3): RLS catalog state, and per service role that zone A reads and writes nothing of zone B.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SERVICE_NAMES, withTransaction, withZone, type Pool, type PoolClient, type ServiceName } from '../../src/index.js';
import { may, UPDATE_COLUMNS, VERBS } from './expected-privileges.js';
import { migratedDatabase, pgError, rolledBack, type MigratedDb } from './migrated-db.js';
import { insertRow, rowFor, seedZone, ZONE_TABLES, type ZoneFixture } from './zone-fixtures.js';

/**
 * Tables with a zone_id that are platform tables by design (migration 0011), each with the reason it stays outside
 * RLS; the schema says the same in a COMMENT ON TABLE, checked below against the live catalog.
 */
const PLATFORM_TABLES: Record<string, string> = {
  admin_audit_events: 'one installation-wide hash chain across all zones (R-AUD-5): a per-zone view could neither append nor verify it',
  admin_tokens: 'resolved before any zone is known, and global tokens have no zone (zone_id NULL)',
};
const GLOBAL_TABLES = Object.keys(PLATFORM_TABLES);
const RLS_VIOLATION = /new row violates row-level security policy/;
const NO_PRIVILEGE = /permission denied for table/;

let db: MigratedDb;
let admin: pg.Client;
let A: ZoneFixture;
let B: ZoneFixture;
const pools = new Map<ServiceName, Pool>();
const poolOf = (s: ServiceName) => pools.get(s)!;

beforeAll(async () => {
  db = await migratedDatabase('rls');
  admin = new pg.Client({ connectionString: db.adminUrl });
  await admin.connect();
  A = await seedZone(admin, 'zone-a');
  B = await seedZone(admin, 'zone-b');
  for (const s of SERVICE_NAMES) pools.set(s, db.poolAs(s));
});

afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

async function countIn(table: string, zoneId: string): Promise<number> {
  const r = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM caracal.${table} WHERE zone_id = $1`, [zoneId]);
  return r.rows[0]!.n;
}

describe('RLS in the catalog', () => {
  it('every table with a zone_id column is RLS-enabled, forced and has exactly one zone_isolation policy', async () => {
    const r = await admin.query<{ t: string; rls: boolean; forced: boolean; nullable: string; policies: string[] | null }>(
      `SELECT c.relname AS t, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, col.is_nullable AS nullable,
              (SELECT array_agg(p.policyname::text) FROM pg_policies p WHERE p.schemaname = 'caracal' AND p.tablename = c.relname) AS policies
         FROM information_schema.columns col
         JOIN pg_class c ON c.relname = col.table_name AND c.relnamespace = 'caracal'::regnamespace
        WHERE col.table_schema = 'caracal' AND col.column_name = 'zone_id' AND NOT c.relispartition
        ORDER BY 1`,
    );
    const owned = r.rows.filter((x) => !GLOBAL_TABLES.includes(x.t));
    // The behaviour tests below cover exactly these tables: a new zone-owned table must join ZONE_TABLES.
    expect(owned.map((x) => x.t)).toEqual([...ZONE_TABLES].sort());
    for (const x of owned) expect({ t: x.t, rls: x.rls, forced: x.forced, policies: x.policies, nullable: x.nullable }).toEqual({ t: x.t, rls: true, forced: true, policies: ['zone_isolation'], nullable: 'NO' });
    const globals = r.rows.filter((x) => GLOBAL_TABLES.includes(x.t));
    expect(globals.map((x) => [x.t, x.nullable])).toEqual([['admin_audit_events', 'YES'], ['admin_tokens', 'YES']]);
  });

  it.each(Object.entries(PLATFORM_TABLES))('%s is a platform table by design, outside RLS, and says so in the schema (%s)', async (table) => {
    const r = await admin.query<{ rls: boolean; forced: boolean; policies: number; comment: string | null }>(
      `SELECT c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, obj_description(c.oid, 'pg_class') AS comment,
              (SELECT count(*)::int FROM pg_policies p WHERE p.schemaname = 'caracal' AND p.tablename = c.relname) AS policies
         FROM pg_class c WHERE c.relnamespace = 'caracal'::regnamespace AND c.relname = $1`,
      [table],
    );
    expect(r.rows[0]).toMatchObject({ rls: false, forced: false, policies: 0 });
    expect(r.rows[0]!.comment).toMatch(/^Platform table by design: .*outside RLS.*\(migration 0011\)\.$/);
  });

  it('only the api role reads admin tokens, and no role may change or delete an admin audit row', async () => {
    const held = await admin.query<{ role: string; t: string; verb: string }>(
      `SELECT r.role, t.t, v.verb FROM unnest($1::text[]) AS r(role), unnest($2::text[]) AS t(t), unnest($3::text[]) AS v(verb)
        WHERE has_table_privilege(r.role, format('caracal.%I', t.t), v.verb) ORDER BY 1, 2, 3`,
      [SERVICE_NAMES.map((s) => db.role(s)), GLOBAL_TABLES, ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']],
    );
    const serviceOf = new Map(SERVICE_NAMES.map((s) => [db.role(s), s]));
    const by = held.rows.map((h) => `${serviceOf.get(h.role)} ${h.t} ${h.verb}`);
    expect(by).toEqual([
      'api admin_audit_events INSERT',
      'api admin_audit_events SELECT',
      'api admin_tokens INSERT',
      'api admin_tokens SELECT',
      'api admin_tokens UPDATE',
      'coordinator admin_audit_events INSERT',
      'coordinator admin_audit_events SELECT',
    ]);
  });

  it('zone_isolation checks both reads and writes against caracal.current_zone_id()', async () => {
    const r = await admin.query<{ tablename: string; cmd: string; permissive: string; qual: string; with_check: string }>(
      `SELECT tablename, cmd, permissive, qual, with_check FROM pg_policies WHERE schemaname = 'caracal'`,
    );
    expect(r.rows.map((p) => p.tablename).sort()).toEqual([...ZONE_TABLES].sort());
    for (const p of r.rows) {
      expect([p.tablename, p.cmd, p.permissive]).toEqual([p.tablename, 'ALL', 'PERMISSIVE']);
      expect(p.qual).toBe('(zone_id = caracal.current_zone_id())');
      expect(p.with_check).toBe('(zone_id = caracal.current_zone_id())');
    }
  });

  it('partitions of audit_events carry no RLS of their own, so no service role holds any privilege on them', async () => {
    const parts = await admin.query<{ relname: string }>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'caracal.audit_events'::regclass`,
    );
    expect(parts.rows.map((p) => p.relname)).toContain('audit_events_default');
    expect(parts.rows.length).toBeGreaterThanOrEqual(5); // default + the months created ahead
    const held = await admin.query(
      `SELECT r.role, p.relname, v.verb FROM unnest($1::text[]) AS r(role), unnest($2::text[]) AS p(relname), unnest($3::text[]) AS v(verb)
        WHERE has_table_privilege(r.role, format('caracal.%I', p.relname), v.verb)`,
      [SERVICE_NAMES.map((s) => db.role(s)), parts.rows.map((p) => p.relname), [...VERBS, 'TRUNCATE']],
    );
    expect(held.rows).toEqual([]);
    const err = await pgError(() => withZone(poolOf('audit'), A.zoneId, (c) => c.query('SELECT * FROM caracal.audit_events_default')));
    expect(err).toEqual({ code: '42501', message: 'permission denied for table audit_events_default' });
  });
});

describe('withZone', () => {
  it.each(['', 'zone-a', `${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}' OR true --`, 'gggggggg-0000-0000-0000-000000000000', ' 00000000-0000-0000-0000-000000000000'])(
    'rejects the zone id %j before touching the database',
    async (zoneId) => {
      const connect = vi.fn();
      const pool = { connect } as unknown as Pool;
      await expect(withZone(pool, zoneId, async () => 'ran')).rejects.toThrow(new TypeError('zone id must be a UUID'));
      expect(connect).not.toHaveBeenCalled();
    },
  );

  it('binds the zone to the transaction only: the same pooled connection sees nothing afterwards', async () => {
    const pool = poolOf('gateway'); // max 1: every call below runs on one connection
    const inside = await withZone(pool, A.zoneId, async (c) => ({
      pid: (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
      rows: (await c.query('SELECT 1 FROM caracal.revocations')).rowCount,
    }));
    expect(inside.rows).toBe(1);
    const after = await pool.query<{ pid: number; zone: string | null; n: number }>(
      `SELECT pg_backend_pid() AS pid, current_setting('caracal.zone_id', true) AS zone, (SELECT count(*)::int FROM caracal.revocations) AS n`,
    );
    expect(after.rows[0]).toEqual({ pid: inside.pid, zone: '', n: 0 });
  });

  it('rolls back everything done in the zone when the work throws', async () => {
    const row = rowFor('outbox', A);
    await expect(
      withZone(poolOf('coordinator'), A.zoneId, async (c) => {
        await insertRow(c, 'outbox', row);
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    const r = await admin.query(`SELECT 1 FROM caracal.outbox WHERE payload = $1`, [row.payload]);
    expect(r.rowCount).toBe(0);
  });

  it('a malformed zone setting makes the query fail instead of matching rows', async () => {
    const err = await pgError(() =>
      withTransaction(poolOf('gateway'), async (c) => {
        await c.query(`SELECT set_config('caracal.zone_id', 'not-a-uuid', true)`);
        return c.query('SELECT * FROM caracal.revocations');
      }),
    );
    expect(err.code).toBe('22P02');
  });
});

describe.each(SERVICE_NAMES)('as the %s role', (service) => {
  for (const table of ZONE_TABLES) {
    if (!may(service, table, 'SELECT')) {
      it(`${table}: SELECT is refused`, async () => {
        const err = await pgError(() => withZone(poolOf(service), A.zoneId, (c) => c.query(`SELECT 1 FROM caracal.${table}`)));
        expect(err.code).toBe('42501');
        expect(err.message).toMatch(NO_PRIVILEGE);
      });
    } else {
      it(`${table}: sees only the bound zone's rows, and none without a zone`, async () => {
        const pool = poolOf(service);
        const read = (c: PoolClient) => c.query<{ zone_id: string }>(`SELECT zone_id FROM caracal.${table}`);
        for (const z of [A, B]) {
          const seen = (await withZone(pool, z.zoneId, read)).rows.map((r) => r.zone_id);
          expect(seen.length).toBeGreaterThan(0);
          expect(seen).toEqual(Array(await countIn(table, z.zoneId)).fill(z.zoneId));
        }
        expect((await withTransaction(pool, read)).rowCount).toBe(0);
        expect((await pool.query(`SELECT zone_id FROM caracal.${table}`)).rowCount).toBe(0);
      });
    }

    if (may(service, table, 'INSERT')) {
      it(`${table}: INSERT accepts only rows of the bound zone`, async () => {
        const pool = poolOf(service);
        const before = await countIn(table, B.zoneId);
        // Control: the same kind of row for the bound zone is accepted, so the refusals below are RLS, not bad data.
        expect((await rolledBack(pool, A.zoneId, (c) => insertRow(c, table, rowFor(table, A)))).rowCount).toBe(1);
        const other = await pgError(() => withZone(pool, A.zoneId, (c) => insertRow(c, table, rowFor(table, B))));
        expect([other.code, other.message]).toEqual(['42501', expect.stringMatching(RLS_VIOLATION)]);
        const unbound = await pgError(() => withTransaction(pool, (c) => insertRow(c, table, rowFor(table, A))));
        expect([unbound.code, unbound.message]).toEqual(['42501', expect.stringMatching(RLS_VIOLATION)]);
        expect(await countIn(table, B.zoneId)).toBe(before);
      });
    } else {
      it(`${table}: INSERT is refused`, async () => {
        const err = await pgError(() => withZone(poolOf(service), A.zoneId, (c) => insertRow(c, table, rowFor(table, A))));
        expect([err.code, err.message]).toEqual(['42501', expect.stringMatching(NO_PRIVILEGE)]);
      });
    }

    if (may(service, table, 'UPDATE')) {
      it(`${table}: UPDATE touches nothing of another zone and cannot move a row into it`, async () => {
        const pool = poolOf(service);
        const mine = await countIn(table, A.zoneId);
        // A role allowed only some columns updates one of them; zone_id is then refused by privilege, not by policy.
        const column = UPDATE_COLUMNS[service]?.[table]?.[0] ?? 'zone_id';
        const touch = (where: string) => (c: PoolClient) => c.query(`UPDATE caracal.${table} SET ${column} = ${column} ${where}`, [B.zoneId]);
        expect((await rolledBack(pool, A.zoneId, touch('WHERE zone_id <> $1'))).rowCount).toBe(mine);
        expect((await withZone(pool, A.zoneId, touch('WHERE zone_id = $1'))).rowCount).toBe(0);
        const moved = await pgError(() => withZone(pool, A.zoneId, (c) => c.query(`UPDATE caracal.${table} SET zone_id = $1`, [B.zoneId])));
        expect([moved.code, moved.message]).toEqual(['42501', expect.stringMatching(column === 'zone_id' ? RLS_VIOLATION : NO_PRIVILEGE)]);
        expect((await withTransaction(pool, touch('WHERE zone_id = $1 OR true'))).rowCount).toBe(0);
      });
    } else {
      it(`${table}: UPDATE is refused`, async () => {
        const err = await pgError(() => withZone(poolOf(service), A.zoneId, (c) => c.query(`UPDATE caracal.${table} SET zone_id = zone_id`)));
        expect([err.code, err.message]).toEqual(['42501', expect.stringMatching(NO_PRIVILEGE)]);
      });
    }

    if (may(service, table, 'DELETE')) {
      it(`${table}: DELETE removes nothing of another zone`, async () => {
        const before = await countIn(table, B.zoneId);
        const r = await withZone(poolOf(service), A.zoneId, (c) => c.query(`DELETE FROM caracal.${table} WHERE zone_id = $1`, [B.zoneId]));
        expect(r.rowCount).toBe(0);
        expect(await countIn(table, B.zoneId)).toBe(before);
      });
    } else {
      it(`${table}: DELETE is refused`, async () => {
        const err = await pgError(() => withZone(poolOf(service), A.zoneId, (c) => c.query(`DELETE FROM caracal.${table} WHERE false`)));
        expect([err.code, err.message]).toEqual(['42501', expect.stringMatching(NO_PRIVILEGE)]);
      });
    }
  }
});
