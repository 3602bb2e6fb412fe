// The Schema and Isolation evidence checks against a live managed stack with two zones provisioned through the CLI:
// all six PASS and the pack changes nothing (catalog and row counts before == after); then one break at a time, made
// as the cluster superuser and restored, and the matching check FAILs naming it (exit 1) and PASSes again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEvidenceStack, type EvidenceStack } from '../../../../test-support/evidence-stack.js';

const SIX = ['schema-rls', 'schema-roles', 'schema-audit-append-only', 'schema-migrations', 'schema-expand-contract', 'zone-isolation-probe'];
const ZONES = ['zone-a', 'zone-b'];

interface Summary {
  exit: number;
  checks: Array<{ id: string; status: string; reason: string }>;
}

let stack: EvidenceStack;
// secrets/databaseUrl of a managed stack is the cluster superuser: it may alter roles, grants and policies.
let admin: pg.Client;
let packs = 0;

async function pack(): Promise<Summary & { dir: string; byId: Record<string, { status: string; reason: string }> }> {
  const dir = join(stack.scratch, `pack-${++packs}`);
  const r = await stack.cli(['evidence-pack', '--out', dir, '--json']);
  const summary = JSON.parse(r.stdout) as Summary;
  expect(summary.exit, r.stderr).toBe(r.exitCode);
  return { ...summary, dir, byId: Object.fromEntries(summary.checks.map((c) => [c.id, c])) };
}

async function mustCli(args: string[]): Promise<string> {
  const r = await stack.cli(args);
  expect(r.exitCode, `caracal ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Everything a write could change: relations and their RLS flags and ACLs, policies, roles, memberships, every table's row count. */
async function snapshot(): Promise<unknown> {
  const q = async (sql: string) => (await admin.query(sql)).rows;
  const relations = await q(`SELECT n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relacl::text
                               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'caracal' ORDER BY 1, 2`);
  const counts: Record<string, number> = {};
  for (const r of relations.filter((x) => x.relkind === 'r')) {
    counts[r.relname] = (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM caracal.${admin.escapeIdentifier(r.relname)}`)).rows[0]!.n;
  }
  return {
    relations,
    counts,
    policies: await q(`SELECT polrelid::regclass::text AS t, polname, polpermissive, polcmd, polroles::text, pg_get_expr(polqual, polrelid) AS q FROM pg_policy ORDER BY 1, 2`),
    roles: await q(`SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication, rolcanlogin, rolinherit FROM pg_roles ORDER BY 1`),
    members: await q(`SELECT roleid::regrole::text AS r, member::regrole::text AS m FROM pg_auth_members ORDER BY 1, 2`),
    migrations: await q(`SELECT version, name, sha256 FROM caracal.schema_migrations ORDER BY version`),
  };
}

/** Audit events reach the ledger asynchronously: wait until two snapshots a second apart agree. */
async function settled(): Promise<unknown> {
  let before = await snapshot();
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await snapshot();
    if (JSON.stringify(now) === JSON.stringify(before)) return now;
    before = now;
  }
  throw new Error('the database did not settle');
}

/** Applies `breakSql`, expects `id` to FAIL with `reason`, restores with `restoreSql`, expects PASS again. */
async function expectBreak(breakSql: string, restoreSql: string, id: string, reason: RegExp) {
  await admin.query(breakSql);
  try {
    const broken = await pack();
    expect(broken.byId[id], id).toMatchObject({ status: 'FAIL', reason: expect.stringMatching(reason) });
    expect(broken.exit).toBe(1);
    return broken;
  } finally {
    await admin.query(restoreSql);
    expect((await pack()).byId[id]).toMatchObject({ status: 'PASS' });
  }
}

describe('schema and isolation evidence checks on a live stack', () => {
  let initial: unknown;

  beforeAll(async () => {
    stack = await startEvidenceStack('evidence-schema');
    admin = new pg.Client({ connectionString: stack.databaseUrl });
    await admin.connect();
    // Two zones with applications, signing keys, a revocation each and their audit rows, all made by the product.
    for (const zone of ZONES) {
      await mustCli(['zone', 'create', zone, '--name', `Zone ${zone}`, '--json']);
      await mustCli(['app', 'create', '--zone', zone, '--name', 'kept-agent', '--json']);
      const gone = JSON.parse(await mustCli(['app', 'create', '--zone', zone, '--name', 'deleted-agent', '--json'])) as { client_id: string };
      await mustCli(['app', 'delete', '--zone', zone, gone.client_id]);
    }
    initial = await settled();
  });

  afterAll(async () => {
    await admin?.end();
    await stack?.stop();
  });

  it('a healthy stack: the six checks PASS, the probe measured rows of both zones, and the pack changed nothing', async () => {
    const before = await snapshot();
    expect(before).toEqual(initial);
    const healthy = await pack();
    expect(healthy.checks.filter((c) => c.status === 'FAIL')).toEqual([]);
    expect(healthy.exit).toBe(0);
    for (const id of SIX) expect(healthy.byId[id], id).toMatchObject({ status: 'PASS' });
    expect(healthy.byId['schema-rls']!.reason).toMatch(/^16 zone-owned tables, each with RLS enabled and forced and the zone_isolation policy; .*platform tables by design \(migration 0011\): admin_audit_events, admin_tokens$/);
    expect(healthy.byId['zone-isolation-probe']!.reason).toMatch(/bound in turn to each of 3 zones, .* saw no row of another zone in \d+ zone-owned tables; [1-9]\d* rows of other zones were there to see/);
    expect(await snapshot()).toEqual(before);
  });

  it('RLS no longer forced on one table: schema-rls names it', async () => {
    await expectBreak('ALTER TABLE caracal.grants NO FORCE ROW LEVEL SECURITY', 'ALTER TABLE caracal.grants FORCE ROW LEVEL SECURITY', 'schema-rls', /^caracal\.grants: row-level security is not forced/);
  });

  it('UPDATE granted on audit rows to the audit role: schema-audit-append-only names role, privilege and table', async () => {
    await expectBreak('GRANT UPDATE ON caracal.audit_events TO caracal_audit', 'REVOKE UPDATE ON caracal.audit_events FROM caracal_audit', 'schema-audit-append-only', /^caracal_audit \(audit\) holds UPDATE on caracal\.audit_events$/);
  });

  it('UPDATE on one column of a partition, granted to PUBLIC: schema-audit-append-only still names the audit role', async () => {
    await expectBreak('GRANT UPDATE (reason) ON caracal.audit_events_default TO PUBLIC', 'REVOKE UPDATE (reason) ON caracal.audit_events_default FROM PUBLIC', 'schema-audit-append-only', /^caracal_audit \(audit\) holds UPDATE on caracal\.audit_events_default/);
  });

  it('a service role given BYPASSRLS: schema-roles names role and attribute, and the probe sees the other zone', async () => {
    const broken = await expectBreak('ALTER ROLE caracal_sts BYPASSRLS', 'ALTER ROLE caracal_sts NOBYPASSRLS', 'schema-roles', /^caracal_sts \(sts\): has BYPASSRLS/);
    expect(broken.byId['zone-isolation-probe']).toMatchObject({ status: 'FAIL', reason: expect.stringMatching(/^caracal\.\w+: caracal_sts .* sees \d+ rows? of zone zone-[ab] /) });
  });

  it('a tampered checksum in the migration history: schema-migrations names the migration and both checksums', async () => {
    const [row] = (await admin.query<{ sha256: string }>('SELECT sha256 FROM caracal.schema_migrations WHERE version = 3')).rows;
    await expectBreak(
      `UPDATE caracal.schema_migrations SET sha256 = repeat('0', 64) WHERE version = 3`,
      `UPDATE caracal.schema_migrations SET sha256 = '${row!.sha256}' WHERE version = 3`,
      'schema-migrations',
      new RegExp(`^0003_enable_zone_isolation\\.up\\.sql: is applied with sha256 000000000000…, the manifest says ${row!.sha256.slice(0, 12)}…$`),
    );
  });

  it('a permissive policy that lets the gateway read every zone: the probe names table, role and zones; schema-rls names the policy', async () => {
    const broken = await expectBreak(
      'CREATE POLICY peek ON caracal.revocations FOR SELECT TO caracal_gateway USING (true)',
      'DROP POLICY peek ON caracal.revocations',
      'zone-isolation-probe',
      /^caracal\.revocations: caracal_gateway with no zone bound sees 1 row of zone zone-[ab] \([0-9a-f-]{36}\)/,
    );
    // Every direction is in raw/: bound to zone-a the gateway saw zone-b's revocation, and the other way round.
    const probe = JSON.parse(readFileSync(join(broken.dir, 'raw', 'zone-isolation-probe', 'probe.json'), 'utf8')).output as Array<{ role: string; table: string; binding: string; visible: Record<string, number> }>;
    const ids = Object.fromEntries((await admin.query<{ slug: string; id: string }>('SELECT slug, id::text AS id FROM caracal.zones')).rows.map((z) => [z.slug, z.id]));
    for (const [bound, other] of [['zone-a', 'zone-b'], ['zone-b', 'zone-a']] as const) {
      const seen = probe.find((o) => o.role === 'caracal_gateway' && o.table === 'caracal.revocations' && o.binding === `bound to zone ${bound} (${ids[bound]})`);
      expect(seen?.visible).toEqual({ [ids[bound]!]: 1, [ids[other]!]: 1 });
    }
    expect(broken.byId['schema-rls']).toMatchObject({ status: 'FAIL', reason: 'caracal.revocations: permissive policy peek widens zone_isolation (USING true, WITH CHECK none)' });
  });

  it('after every break was restored, the catalog and every row count are as they were', async () => {
    expect(await snapshot()).toEqual(initial);
  });
});
