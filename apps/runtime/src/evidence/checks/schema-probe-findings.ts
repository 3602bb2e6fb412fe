// What the zone isolation probe saw, judged: under each binding a service role must see no row of another zone,
// and, where the owner can count every zone, exactly the rows of the zone it is bound to.

/** How a probe transaction was bound: a zone in turn, an id no zone has, or nothing at all. */
export type Binding = { kind: 'zone'; zone: string } | { kind: 'unknown'; zone: string } | { kind: 'unbound' };

export interface Observation {
  role: string;
  table: string;
  binding: Binding;
  /** Rows visible per zone id under the binding. */
  visible: Record<string, number>;
}

/** Rows per zone id of each table, as the owner counts them past RLS; null when the owner is itself bound by RLS. */
export type OwnerCounts = Record<string, Record<string, number>> | null;

const rows = (n: number) => `${n} row${n === 1 ? '' : 's'}`;

export const describeBinding = (b: Binding, label: (zone: string) => string) =>
  b.kind === 'zone' ? `bound to zone ${label(b.zone)}` : b.kind === 'unknown' ? `bound to ${b.zone}, an id no zone has` : 'with no zone bound';

export function probeProblems(observations: readonly Observation[], owner: OwnerCounts, label: (zone: string) => string): string[] {
  const problems: string[] = [];
  for (const o of observations) {
    const own = o.binding.kind === 'zone' ? o.binding.zone : undefined;
    const how = `${o.table}: ${o.role} ${describeBinding(o.binding, label)}`;
    for (const [zone, n] of Object.entries(o.visible)) {
      if (zone !== own && n > 0) problems.push(`${how} sees ${rows(n)} of zone ${label(zone)}`);
    }
    // Seeing nothing of the other zones proves nothing if the binding hides the zone's own rows as well.
    const expected = own !== undefined && owner ? (owner[o.table]?.[own] ?? 0) : undefined;
    const seen = own !== undefined ? (o.visible[own] ?? 0) : 0;
    if (expected !== undefined && seen !== expected) problems.push(`${how} sees ${seen} of the zone's ${rows(expected)}: the binding does not select the zone as the services bind it`);
  }
  return problems;
}

/** Rows of zones other than the bound one that existed to be seen (what the zeros were measured against). */
export function foreignCandidates(observations: readonly Observation[], owner: OwnerCounts): number {
  if (!owner) return 0;
  let n = 0;
  for (const o of observations) {
    const own = o.binding.kind === 'zone' ? o.binding.zone : undefined;
    for (const [zone, count] of Object.entries(owner[o.table] ?? {})) if (zone !== own) n += count;
  }
  return n;
}

export interface ProbeScope {
  /** Service roles that read at least one zone-owned table. */
  roles: number;
  zones: number;
  /** Zone-owned tables some service role reads, and those none does. */
  tables: number;
  unread: readonly string[];
}

/** Why the probe passed, saying what there was to see: rows of other zones, one zone's rows only, or no row at all. */
export function probeSummary(scope: ProbeScope, observations: readonly Observation[], owner: OwnerCounts, label: (zone: string) => string): string {
  const notRead = scope.unread.length ? `; no service role reads ${scope.unread.join(', ')}` : '';
  const did = `${scope.roles} service roles, bound in turn to each of ${scope.zones} zones, to an id no zone has and to none, saw no row of another zone in ${scope.tables} zone-owned tables${notRead}`;
  if (!owner) return `${did} (the owner is itself bound by RLS, so the rows each zone holds were not counted for comparison)`;
  const perZone = new Map<string, number>();
  for (const counts of Object.values(owner)) for (const [zone, n] of Object.entries(counts)) perZone.set(zone, (perZone.get(zone) ?? 0) + n);
  const holding = [...perZone].filter(([, n]) => n > 0);
  if (holding.length === 0) return `no zone-owned table holds a row yet, so there was nothing to leak: ${did}`;
  if (holding.length === 1) {
    const [zone, n] = holding[0]!;
    return `only one zone, ${label(zone)}, holds rows (${rows(n)}, all of which the owner sees): bound to an id no zone has or to none, no service role saw any of them, and bound to that zone each saw exactly its rows; ${did}`;
  }
  return `${did}; ${foreignCandidates(observations, owner)} rows of other zones were there to see across the bindings, and each binding saw exactly its own zone's rows`;
}
