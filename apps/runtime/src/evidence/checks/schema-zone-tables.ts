// Which relations of the catalog are zone-owned (R-DB-2): the population the RLS check and the isolation probe
// read, with every relation left out named together with the reason it is left out.
import { relationKey, type Relation } from './schema-catalog.js';

/**
 * The two tables with a zone_id that migration 0011 declares platform tables by design: admin tokens are resolved
 * before any zone is known (and global ones have no zone), and the admin audit log is one installation-wide hash
 * chain (R-AUD-5). Each counts as such only while the schema says so in its COMMENT; otherwise it is zone-owned
 * like any other and must carry RLS.
 */
export const PLATFORM_TABLES: Readonly<Record<string, string>> = {
  'caracal.admin_audit_events': 'one installation-wide hash chain across all zones (R-AUD-5), append-only',
  'caracal.admin_tokens': 'resolved before any zone is known; global tokens have no zone',
};
const PLATFORM_COMMENT = /^Platform table by design:/;

export interface ZonePopulation {
  /** Tables whose rows belong to a zone: RLS enabled and forced with `zone_isolation` is required of each. */
  owned: Relation[];
  /**
   * Partitions of a zone-owned table. Postgres applies the parent's policy to rows read through the parent only,
   * so a partition is sound when no service role can reach it directly (or it carries RLS of its own).
   */
  partitions: Relation[];
  /** Views and materialized views with a zone column: they read as their owner, past RLS, so no service role may read them. */
  views: Relation[];
  platform: Array<{ relation: Relation; why: string }>;
}

export function zonePopulation(relations: readonly Relation[]): ZonePopulation {
  const out: ZonePopulation = { owned: [], partitions: [], views: [], platform: [] };
  for (const r of relations) {
    const why = PLATFORM_TABLES[relationKey(r)];
    if (r.kind === 'v' || r.kind === 'm') out.views.push(r);
    else if (r.partition) out.partitions.push(r);
    else if (why && PLATFORM_COMMENT.test(r.comment ?? '')) out.platform.push({ relation: r, why });
    else out.owned.push(r);
  }
  return out;
}

/** The population as the raw output records it: every relation with the class it was put in. */
export const describePopulation = (p: ZonePopulation) => ({
  zone_owned: p.owned.map(relationKey),
  partitions: p.partitions.map((r) => ({ partition: relationKey(r), of: r.parent })),
  views: p.views.map(relationKey),
  platform_tables: p.platform.map(({ relation, why }) => ({ table: relationKey(relation), why, comment: relation.comment })),
});
