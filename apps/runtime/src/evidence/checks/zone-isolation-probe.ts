// zone-isolation-probe (R-EVD-1, R-DB-2): each service role, bound to each zone in turn the way the services bind
// it, reads no row of another zone in any zone-owned table. Every probe runs in a transaction that is rolled back.
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '@caracal/db';
import type { CheckDefinition, RawOutput } from '../check.js';
import { readPrivileges, readRelations, relationKey, type Relation } from './schema-catalog.js';
import { describeBinding, probeProblems, probeSummary, type Binding, type Observation, type OwnerCounts } from './schema-probe-findings.js';
import { qualified, rolledBack, serviceRoles, withCatalogPath } from './schema-support.js';
import { zonePopulation } from './schema-zone-tables.js';
import { readQuery, skipped, verdict, withDb } from './support.js';

/** Rows visible per zone: one scan of what the policy lets through, so any other zone shows up by name. */
const countSql = (t: Relation) => `SELECT zone_id::text AS zone, count(*)::int AS n FROM ${qualified(t.schema, t.table)} GROUP BY 1`;
/** How the services bind a zone (packages/db/src/with-zone.ts): transaction-local, read by the policies. */
const BIND = "SELECT set_config('caracal.zone_id', $1, true)";
const NO_ZONE = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
const COUNT_TEMPLATE = countSql({ schema: '<schema>', table: '<table>' } as Relation);

async function visible(client: Pool | PoolClient, t: Relation): Promise<Record<string, number>> {
  const r = await client.query<{ zone: string; n: number }>(countSql(t));
  return Object.fromEntries(r.rows.map((x) => [x.zone, x.n]));
}

/** As `role`: first with no zone bound (nothing set yet in this transaction), then each binding in turn. */
function probeRole(db: Pool, role: string, tables: readonly Relation[], zones: readonly string[], unknown: string) {
  return rolledBack(db, async (client) => {
    await client.query(`SET LOCAL ROLE ${client.escapeIdentifier(role)}`);
    const seen: Observation[] = [];
    const bindings: Binding[] = [{ kind: 'unbound' }, ...zones.map((zone): Binding => ({ kind: 'zone', zone })), { kind: 'unknown', zone: unknown }];
    for (const binding of bindings) {
      if (binding.kind !== 'unbound') await client.query(BIND, [binding.zone]);
      for (const t of tables) seen.push({ role, table: relationKey(t), binding, visible: await visible(client, t) });
    }
    return seen;
  });
}

/** Every table's rows per zone as the owner sees them, when the owner passes RLS (the managed superuser does). */
async function ownerCounts(db: Pool, tables: readonly Relation[]): Promise<{ counts: OwnerCounts; raw: RawOutput }> {
  const who = await readQuery<{ owner: string; sees_all: boolean }>(db, 'owner.json', 'SELECT current_user AS owner, rolsuper OR rolbypassrls AS sees_all FROM pg_roles WHERE rolname = current_user');
  if (!who.rows[0]?.sees_all) return { counts: null, raw: who.raw };
  const counts: Record<string, Record<string, number>> = {};
  for (const t of tables) counts[relationKey(t)] = await visible(db, t);
  return { counts, raw: { name: 'owner.json', command: `${who.raw.command}; then per table: ${COUNT_TEMPLATE}`, output: { owner: who.rows[0], rows_per_zone: counts } } };
}

/** Every zone: those caracal.zones lists and any other id the owner found rows of; and an id none of them has. */
async function readZones(db: Pool, owner: OwnerCounts) {
  const zones = await readQuery<{ id: string; slug: string }>(db, 'zones.json', 'SELECT id::text AS id, slug FROM caracal.zones ORDER BY slug');
  const ids = [...new Set([...zones.rows.map((z) => z.id), ...Object.values(owner ?? {}).flatMap((c) => Object.keys(c))])].sort();
  let unknown = NO_ZONE;
  while (ids.includes(unknown)) unknown = randomUUID();
  const slug = new Map(zones.rows.map((z) => [z.id, z.slug]));
  return { ids, unknown, raw: zones.raw, label: (id: string) => `${slug.get(id) ?? '(not in caracal.zones)'} (${id})` };
}

export const zoneIsolationProbe: CheckDefinition = {
  id: 'zone-isolation-probe',
  pillar: 'Isolation',
  title: 'A service bound to one zone reads no other zone',
  what:
    'As each service role, bound to each zone in turn exactly as the services bind it (and to an unknown zone id, and to none), count the rows of every zone-owned table it can read: no row of another zone may be visible. Runs in transactions that are rolled back.',
  controls: ['R7', 'ASI03', 'SOC2-CC6.1', 'NIST-MEASURE'],
  command: `BEGIN; SET LOCAL ROLE <service role>; ${BIND}; ${COUNT_TEMPLATE}; ROLLBACK`,
  run: (ctx) =>
    withDb(ctx, async (db) => {
      const roles = serviceRoles(ctx).map((r) => r.role);
      const catalog = await withCatalogPath(db, async (c) => ({ relations: await readRelations(c), privileges: await readPrivileges(c, roles) }));
      // The same population schema-rls judges; a table without a zone column cannot be counted per zone (schema-rls fails it).
      const tables = zonePopulation(catalog.relations.rows).owned.filter((t) => t.zone_column);
      if (tables.length === 0) return verdict(['no zone-owned table with a zone_id column found in the catalog'], '', [catalog.relations.raw]);
      const owner = await ownerCounts(db, tables);
      const zones = await readZones(db, owner.counts);
      const reads = (role: string, t: Relation) => catalog.privileges.rows.some((p) => p.role === role && p.privilege === 'SELECT' && relationKey(p) === relationKey(t));
      const readers = roles.map((role) => ({ role, tables: tables.filter((t) => reads(role, t)) })).filter((r) => r.tables.length > 0);
      const observations: Observation[] = [];
      for (const r of readers) {
        try {
          observations.push(...(await probeRole(db, r.role, r.tables, zones.ids, zones.unknown)));
        } catch (e) {
          // Only a refused SET ROLE skips (an external owner may not be a member of the service roles); anything else fails.
          if (!/set role/i.test((e as Error).message)) throw e;
          return skipped(`the migration role cannot SET ROLE ${r.role} (${(e as Error).message}): grant it membership in the service roles to run the probe`, [zones.raw, owner.raw]);
        }
      }
      const probe = { name: 'probe.json', command: `per role, one rolled-back transaction: SET LOCAL ROLE <role>; unbound, then each zone and ${zones.unknown}: ${BIND}; per table: ${COUNT_TEMPLATE}`, output: observations.map((o) => ({ ...o, binding: describeBinding(o.binding, zones.label) })) };
      const unread = tables.filter((t) => !readers.some((r) => r.tables.includes(t))).map(relationKey);
      const scope = { roles: readers.length, zones: zones.ids.length, tables: tables.length - unread.length, unread };
      return verdict(probeProblems(observations, owner.counts, zones.label), probeSummary(scope, observations, owner.counts, zones.label), [zones.raw, owner.raw, catalog.privileges.raw, probe]);
    }),
};
