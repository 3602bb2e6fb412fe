// schema-rls (R-EVD-1, R-DB-2): every zone-owned table in the live catalog has row-level security enabled and
// forced with the `zone_isolation` policy, and nothing routes around it (a partition or view a service can read).
import type { CheckDefinition } from '../check.js';
import { readPolicies, readPrivileges, readRelations, relationKey, type Policy, type Privilege, type Relation } from './schema-catalog.js';
import { serviceRoles, withCatalogPath } from './schema-support.js';
import { describePopulation, zonePopulation, type ZonePopulation } from './schema-zone-tables.js';
import { verdict, withDb } from './support.js';

export const ZONE_POLICY = 'zone_isolation';
/** The policy expression of migration 0003, printed schema-qualified: rows of the bound zone only, for reads and writes. */
export const ZONE_EXPR = '(zone_id = caracal.current_zone_id())';

function tableProblems(t: Relation, policies: readonly Policy[]): string[] {
  const name = relationKey(t);
  const problems: string[] = [];
  if (!t.rls_enabled) problems.push(`${name}: row-level security is not enabled`);
  if (!t.rls_forced) problems.push(`${name}: row-level security is not forced (its owner reads every zone)`);
  const own = policies.filter((p) => p.schema === t.schema && p.table === t.table);
  const zone = own.find((p) => p.policy === ZONE_POLICY);
  if (!zone) problems.push(`${name}: has no ${ZONE_POLICY} policy`);
  else if (zone.cmd !== '*' || !zone.permissive || zone.roles.join() !== 'public' || zone.using_expr !== ZONE_EXPR || zone.check_expr !== ZONE_EXPR) {
    problems.push(`${name}: ${ZONE_POLICY} is not the zone policy (cmd ${zone.cmd}, roles ${zone.roles.join(',')}, USING ${zone.using_expr}, WITH CHECK ${zone.check_expr}; expected ALL to public with ${ZONE_EXPR} for both)`);
  }
  // Permissive policies are OR-ed together: any other one widens what zone_isolation allows. Restrictive ones only narrow.
  for (const p of own.filter((x) => x.permissive && x.policy !== ZONE_POLICY)) {
    problems.push(`${name}: permissive policy ${p.policy} widens ${ZONE_POLICY} (USING ${p.using_expr ?? 'none'}, WITH CHECK ${p.check_expr ?? 'none'})`);
  }
  return problems;
}

const heldOn = (privileges: readonly Privilege[], r: Relation) => privileges.filter((p) => p.schema === r.schema && p.table === r.table);

/** Every way the population falls short, each naming the table (and the role, for a partition or view). */
export function rlsProblems(pop: ZonePopulation, policies: readonly Policy[], privileges: readonly Privilege[]): string[] {
  const problems: string[] = [];
  if (pop.owned.length === 0) problems.push('no zone-owned table found in the catalog: the schema is not migrated');
  for (const t of pop.owned) problems.push(...tableProblems(t, policies));
  for (const part of pop.partitions) {
    const held = heldOn(privileges, part);
    if (held.length === 0 || tableProblems(part, policies).length === 0) continue;
    const list = held.map((p) => `${p.role} ${p.privilege}`).join(', ');
    problems.push(`${relationKey(part)} (partition of ${part.parent}): reachable directly past the parent's policy (${list})`);
  }
  for (const view of pop.views) {
    const reads = heldOn(privileges, view).filter((p) => p.privilege === 'SELECT');
    if (reads.length > 0) problems.push(`${relationKey(view)}: view with a zone column readable by ${reads.map((p) => p.role).join(', ')}, past RLS`);
  }
  return problems;
}

export const schemaRls: CheckDefinition = {
  id: 'schema-rls',
  pillar: 'Schema',
  title: 'Row-level security on every zone-owned table',
  what:
    'Every table that holds zone rows has row-level security enabled and forced with the zone_isolation policy, read from the live catalog, and no partition or view lets a service role around it. This is what keeps one zone from reading another even if a service has a bug.',
  controls: ['R7', 'ASI03', 'SOC2-CC6.1', 'EU-AIA-15'],
  command: 'SELECT … FROM pg_class, pg_attribute, pg_policy; has_table_privilege / has_any_column_privilege per service role',
  run: (ctx) =>
    withDb(ctx, (db) =>
      withCatalogPath(db, async (client) => {
        const relations = await readRelations(client);
        const policies = await readPolicies(client);
        const privileges = await readPrivileges(client, serviceRoles(ctx).map((r) => r.role));
        const pop = zonePopulation(relations.rows);
        const population = { name: 'population.json', command: 'derived from relations.json: zone-owned tables, partitions, views, platform tables (migration 0011)', output: describePopulation(pop) };
        const platform = pop.platform.map((p) => p.relation.table).join(', ') || 'none';
        return verdict(
          rlsProblems(pop, policies.rows, privileges.rows),
          `${pop.owned.length} zone-owned tables, each with RLS enabled and forced and the ${ZONE_POLICY} policy; ${pop.partitions.length} partitions and ${pop.views.length} views no service role reads past that policy; platform tables by design (migration 0011): ${platform}`,
          [population, relations.raw, policies.raw, privileges.raw],
        );
      }),
    ),
};
