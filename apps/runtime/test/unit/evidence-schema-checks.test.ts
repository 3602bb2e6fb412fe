// The Schema and Isolation evidence checks' judgement, on catalog rows given as plain objects: which relations are
// zone-owned, what the RLS, role, append-only, migration and probe checks call a finding and how they name it, and
// the expand/contract check on migration directories.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex, type MigrationFile } from '@caracal/db';
import type { EvidenceContext } from '../../src/evidence/check.js';
import { appendOnlyProblems } from '../../src/evidence/checks/schema-audit-append-only.js';
import type { Policy, Privilege, Relation } from '../../src/evidence/checks/schema-catalog.js';
import { schemaExpandContract } from '../../src/evidence/checks/schema-expand-contract.js';
import { migrationProblems } from '../../src/evidence/checks/schema-migrations.js';
import { probeProblems, probeSummary, type Observation } from '../../src/evidence/checks/schema-probe-findings.js';
import { rlsProblems, ZONE_EXPR } from '../../src/evidence/checks/schema-rls.js';
import { roleProblems, type RoleRow } from '../../src/evidence/checks/schema-roles.js';
import { serviceRoles } from '../../src/evidence/checks/schema-support.js';
import { zonePopulation } from '../../src/evidence/checks/schema-zone-tables.js';
import { SCHEMA_CHECKS } from '../../src/evidence/checks/schema.js';

const rel = (table: string, over: Partial<Relation> = {}): Relation => ({
  schema: 'caracal', table, kind: 'r', rls_enabled: true, rls_forced: true, partition: false, parent: null, zone_column: true, comment: null, ...over,
});
const zonePolicy = (table: string, over: Partial<Policy> = {}): Policy => ({
  schema: 'caracal', table, policy: 'zone_isolation', permissive: true, cmd: '*', roles: ['public'], using_expr: ZONE_EXPR, check_expr: ZONE_EXPR, ...over,
});
const priv = (role: string, table: string, privilege: string): Privilege => ({ role, schema: 'caracal', table, privilege });
const ROLES = serviceRoles({ settings: { CARACAL_DB_ROLE_PREFIX: 'acme' } } as EvidenceContext);

describe('the zone-owned population', () => {
  it('puts partitions, views and declared platform tables apart; a platform table without its schema comment is zone-owned', () => {
    const pop = zonePopulation([
      rel('grants'),
      rel('audit_events_default', { partition: true, parent: 'caracal.audit_events', rls_enabled: false, rls_forced: false }),
      rel('zone_view', { kind: 'v' }),
      rel('admin_tokens', { rls_enabled: false, rls_forced: false, comment: 'Platform table by design: resolved first' }),
      rel('admin_audit_events', { rls_enabled: false, rls_forced: false, comment: null }),
      rel('admin_tokens', { schema: 'public', rls_enabled: false, rls_forced: false, comment: 'Platform table by design: a copy' }),
    ]);
    expect(pop.owned.map((r) => `${r.schema}.${r.table}`)).toEqual(['caracal.grants', 'caracal.admin_audit_events', 'public.admin_tokens']);
    expect(pop.partitions.map((r) => r.table)).toEqual(['audit_events_default']);
    expect(pop.views.map((r) => r.table)).toEqual(['zone_view']);
    expect(pop.platform.map((p) => p.relation.table)).toEqual(['admin_tokens']);
  });
});

describe('schema-rls findings', () => {
  const healthy = () => zonePopulation([rel('grants'), rel('outbox')]);
  const policies = [zonePolicy('grants'), zonePolicy('outbox')];

  it('finds nothing when every table is enabled, forced and has the zone policy (an extra restrictive policy only narrows)', () => {
    expect(rlsProblems(healthy(), [...policies, zonePolicy('grants', { policy: 'narrow', permissive: false, using_expr: 'false' })], [])).toEqual([]);
  });

  it('names the table for RLS not enabled, not forced, no policy, a different zone policy, and a widening permissive policy', () => {
    const pop = zonePopulation([rel('grants', { rls_forced: false }), rel('outbox', { rls_enabled: false }), rel('resources'), rel('approvals'), rel('revocations')]);
    const found = rlsProblems(
      pop,
      [zonePolicy('grants'), zonePolicy('outbox'), zonePolicy('approvals', { using_expr: 'true' }), zonePolicy('revocations'), zonePolicy('revocations', { policy: 'peek', check_expr: null, using_expr: 'true' })],
      [],
    );
    expect(found).toEqual([
      'caracal.grants: row-level security is not forced (its owner reads every zone)',
      'caracal.outbox: row-level security is not enabled',
      'caracal.resources: has no zone_isolation policy',
      expect.stringMatching(/^caracal\.approvals: zone_isolation is not the zone policy \(cmd \*, roles public, USING true, /),
      'caracal.revocations: permissive policy peek widens zone_isolation (USING true, WITH CHECK none)',
    ]);
  });

  it('fails a zone policy that applies to one role only or to SELECT only', () => {
    const pop = zonePopulation([rel('grants'), rel('outbox')]);
    const found = rlsProblems(pop, [zonePolicy('grants', { roles: ['acme_api'] }), zonePolicy('outbox', { cmd: 'r' })], []);
    expect(found.map((f) => f.split(':')[0])).toEqual(['caracal.grants', 'caracal.outbox']);
  });

  it('fails a partition or view a service role can reach directly, naming the role and privilege', () => {
    const pop = zonePopulation([
      rel('grants'),
      rel('audit_events_default', { partition: true, parent: 'caracal.audit_events', rls_enabled: false, rls_forced: false }),
      rel('audit_events_2026_01', { partition: true, parent: 'caracal.audit_events', rls_enabled: false, rls_forced: false }),
      rel('v', { kind: 'v' }),
    ]);
    const found = rlsProblems(pop, [zonePolicy('grants')], [priv('acme_audit', 'audit_events_default', 'DELETE'), priv('acme_gateway', 'v', 'SELECT'), priv('acme_api', 'grants', 'SELECT')]);
    expect(found).toEqual([
      "caracal.audit_events_default (partition of caracal.audit_events): reachable directly past the parent's policy (acme_audit DELETE)",
      'caracal.v: view with a zone column readable by acme_gateway, past RLS',
    ]);
  });

  it('fails an unmigrated schema: no zone-owned table at all', () => {
    expect(rlsProblems(zonePopulation([]), [], [])).toEqual(['no zone-owned table found in the catalog: the schema is not migrated']);
  });
});

describe('schema-roles findings', () => {
  const row = (role: string, over: Partial<RoleRow> = {}): RoleRow => ({
    role, superuser: false, bypassrls: false, replication: false, createrole: false, createdb: false, login: true, inherit: true, connlimit: -1, valid_until: null, member_of: [], escalates_to: [], ...over,
  });
  const all = () => ROLES.map((r) => row(r.role));

  it('finds nothing for five least-privilege roles, LOGIN and CREATEDB notwithstanding', () => {
    expect(roleProblems(ROLES, all().map((r) => ({ ...r, createdb: true })))).toEqual([]);
  });

  it('names the role and the attribute: missing, SUPERUSER, BYPASSRLS, REPLICATION, CREATEROLE, or gained through membership', () => {
    const rows = all().filter((r) => r.role !== 'acme_gateway');
    rows[0] = row('acme_api', { bypassrls: true });
    rows[1] = row('acme_coordinator', { superuser: true, createrole: true });
    rows[2] = row('acme_sts', { replication: true });
    rows[3] = row('acme_audit', { member_of: ['owner'], escalates_to: ['owner (SUPERUSER)'] });
    expect(roleProblems(ROLES, rows)).toEqual([
      'acme_api (api): has BYPASSRLS (reads and writes past every zone_isolation policy)',
      'acme_coordinator (coordinator): has SUPERUSER (passes every check, RLS included)',
      'acme_coordinator (coordinator): has CREATEROLE (can create or alter roles, and join the schema owner)',
      'acme_sts (sts): has REPLICATION (streams the whole database, past RLS)',
      'acme_gateway (gateway): the role does not exist',
      'acme_audit (audit): is a member of owner (SUPERUSER), so SET ROLE gives it that attribute',
    ]);
  });
});

describe('schema-audit-append-only findings', () => {
  const tables = [
    { schema: 'caracal', table: 'audit_events', kind: 'p', partition_of: null },
    { schema: 'caracal', table: 'audit_events_default', kind: 'r', partition_of: 'caracal.audit_events' },
  ];

  it('ignores SELECT and INSERT, and rewrites of tables that are not audit tables', () => {
    expect(appendOnlyProblems(ROLES, tables, [priv('acme_audit', 'audit_events', 'SELECT'), priv('acme_audit', 'audit_events', 'INSERT'), priv('acme_api', 'grants', 'DELETE')])).toEqual([]);
  });

  it('names role, privilege and table for UPDATE, DELETE and TRUNCATE, the audit role first', () => {
    const found = appendOnlyProblems(ROLES, tables, [priv('acme_api', 'audit_events', 'TRUNCATE'), priv('acme_audit', 'audit_events_default', 'DELETE'), priv('acme_audit', 'audit_events', 'UPDATE')]);
    expect(found).toEqual([
      'acme_audit (audit) holds DELETE on caracal.audit_events_default',
      'acme_audit (audit) holds UPDATE on caracal.audit_events',
      'acme_api (api) holds TRUNCATE on caracal.audit_events',
    ]);
  });
});

describe('schema-migrations findings', () => {
  const file = (version: number, name: string, sql: string, phase: 'expand' | 'contract' = 'expand'): MigrationFile => ({
    version, name, file: `${name}.up.sql`, path: `/m/${name}.up.sql`, sql, sha256: sha256Hex(sql), phase,
  });
  const files = [file(1, '0001_create_core', 'CREATE TABLE a ()'), file(2, '0002_add_b', 'ALTER TABLE a ADD b int')];
  const manifest = Object.fromEntries(files.map((f) => [f.file, f.sha256]));
  const applied = files.map((f) => ({ version: f.version, name: f.name, sha256: f.sha256 }));

  it('finds nothing when history, manifest and files agree; a contract file waiting for its step is only reported', () => {
    const contract = file(3, '0003_drop_b', '-- caracal:phase contract\nALTER TABLE a DROP COLUMN b', 'contract');
    expect(migrationProblems({ ...manifest, [contract.file]: contract.sha256 }, [...files, contract], applied)).toEqual({ problems: [], pendingContract: ['0003_drop_b.up.sql'] });
  });

  it('names the migration for a tampered checksum, a row the manifest does not know, a released file not applied, a changed file', () => {
    const tampered = applied.map((a) => (a.version === 2 ? { ...a, sha256: '0'.repeat(64) } : a));
    expect(migrationProblems(manifest, files, tampered).problems).toEqual([`0002_add_b.up.sql: is applied with sha256 000000000000…, the manifest says ${files[1]!.sha256.slice(0, 12)}…`]);
    expect(migrationProblems(manifest, files, [...applied, { version: 9, name: '0009_add_x', sha256: 'f'.repeat(64) }]).problems).toEqual([
      '0009_add_x.up.sql: is applied to the database but not in the manifest',
    ]);
    expect(migrationProblems(manifest, files, applied.slice(0, 1)).problems).toEqual(['0002_add_b.up.sql: is released but not applied to the database']);
    const edited = [files[0]!, file(2, '0002_add_b', 'ALTER TABLE a ADD b bigint')];
    expect(migrationProblems(manifest, edited, applied).problems).toEqual([
      '0002_add_b.up.sql: released file was modified (sha256 differs from the manifest)',
      '0002_add_b.up.sql: is applied to the database, and its file differs from it',
    ]);
  });
});

describe('zone-isolation-probe findings', () => {
  const A = 'aaaaaaaa-0000-4000-8000-000000000001';
  const B = 'bbbbbbbb-0000-4000-8000-000000000002';
  const label = (id: string) => ({ [A]: 'zone-a', [B]: 'zone-b' })[id] ?? id;
  const obs = (binding: Observation['binding'], visible: Record<string, number>, table = 'caracal.grants'): Observation => ({ role: 'acme_sts', table, binding, visible });
  const owner = { 'caracal.grants': { [A]: 2, [B]: 3 } };
  const healthy = [obs({ kind: 'unbound' }, {}), obs({ kind: 'zone', zone: A }, { [A]: 2 }), obs({ kind: 'zone', zone: B }, { [B]: 3 }), obs({ kind: 'unknown', zone: 'ffff' }, {})];
  const scope = { roles: 1, zones: 2, tables: 1, unread: [] };

  it('passes when each binding sees exactly its own rows, and says how many rows of other zones there were to see', () => {
    expect(probeProblems(healthy, owner, label)).toEqual([]);
    expect(probeSummary(scope, healthy, owner, label)).toMatch(/saw no row of another zone in 1 zone-owned tables; 15 rows of other zones were there to see/);
  });

  it('names table, role and both zones for a row of another zone, under a zone, an unknown id or no binding', () => {
    const leaky = [obs({ kind: 'zone', zone: A }, { [A]: 2, [B]: 1 }), obs({ kind: 'unbound' }, { [B]: 3 }), obs({ kind: 'unknown', zone: 'ffff' }, { [A]: 1 })];
    expect(probeProblems(leaky, owner, label)).toEqual([
      'caracal.grants: acme_sts bound to zone zone-a sees 1 row of zone zone-b',
      'caracal.grants: acme_sts with no zone bound sees 3 rows of zone zone-b',
      'caracal.grants: acme_sts bound to ffff, an id no zone has sees 1 row of zone zone-a',
    ]);
  });

  it("fails a binding that hides the zone's own rows too: zeros measured that way prove nothing", () => {
    expect(probeProblems([obs({ kind: 'zone', zone: A }, {})], owner, label)).toEqual([
      "caracal.grants: acme_sts bound to zone zone-a sees 0 of the zone's 2 rows: the binding does not select the zone as the services bind it",
    ]);
  });

  it('says so when only one zone holds rows, or none does, or the owner cannot count them', () => {
    const one = { 'caracal.grants': { [A]: 2 } };
    expect(probeSummary(scope, healthy, one, label)).toMatch(/^only one zone, zone-a, holds rows \(2 rows, all of which the owner sees\): bound to an id no zone has or to none, no service role saw any/);
    expect(probeSummary(scope, healthy, { 'caracal.grants': {} }, label)).toMatch(/^no zone-owned table holds a row yet, so there was nothing to leak/);
    expect(probeSummary(scope, healthy, null, label)).toMatch(/the owner is itself bound by RLS/);
  });
});

describe('schema-expand-contract on a migration directory', () => {
  let root: string | undefined;
  afterEach(() => root && rmSync(root, { recursive: true, force: true }));
  const ctxWith = (files: Record<string, string>) => {
    root = mkdtempSync(join(tmpdir(), 'caracal-guard-'));
    const dir = join(root, 'infra', 'postgres', 'migrations');
    mkdirSync(dir, { recursive: true });
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
    return { root } as EvidenceContext;
  };

  it('passes the real install root, and a contract-phase file may drop', async () => {
    expect((await schemaExpandContract.run({ root: join(import.meta.dirname, '..', '..', '..', '..') } as EvidenceContext)).status).toBe('PASS');
    const ok = await schemaExpandContract.run(ctxWith({ '0001_create_a.up.sql': 'CREATE TABLE a (b int);', '0002_drop_b.up.sql': '-- caracal:phase contract\nALTER TABLE a DROP COLUMN b;' }));
    expect(ok).toMatchObject({ status: 'PASS', reason: '2 migration files pass the expand/contract guard (1 contract-phase)' });
  });

  it('names file, line and construct of contract DDL in an expand file; an unreadable or empty directory fails', async () => {
    const bad = await schemaExpandContract.run(ctxWith({ '0001_create_a.up.sql': 'CREATE TABLE a (b int);\n\nALTER TABLE a RENAME b TO c;' }));
    expect(bad).toMatchObject({ status: 'FAIL', reason: "0001_create_a.up.sql:3: RENAME in an expand-phase file (it needs the header '-- caracal:phase contract')" });
    expect((await schemaExpandContract.run({ root: '/nonexistent' } as EvidenceContext)).reason).toMatch(/^the migration files cannot be read: migrations directory \/nonexistent\/infra\/postgres\/migrations cannot be read/);
    expect((await schemaExpandContract.run(ctxWith({}))).reason).toMatch(/holds no migration file$/);
  });
});

it('SCHEMA_CHECKS lists the six checks in report order', () => {
  expect(SCHEMA_CHECKS.map((c) => c.id)).toEqual(['schema-rls', 'schema-roles', 'schema-audit-append-only', 'schema-migrations', 'schema-expand-contract', 'zone-isolation-probe']);
});
