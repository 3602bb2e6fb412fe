// Planner statistics gathered as rows arrive (migration 0023, ingest/statistics.ts). The event-id lookup of an
// append, planned while the month's partition was empty, reads every row of the zone through (zone_id, occurred_at)
// until the partition is analyzed; the ingest analyzes it once it fills a few hundred rows without statistics; every
// session, including one that planned the lookup before the rows came, plans it again through (zone_id, event_id).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery } from '../../../../test-support/db.js';
import { ANALYZE_MIN_PAGES } from '../../src/ingest/statistics.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness;
let svc: Awaited<ReturnType<Harness['start']>>;
let session: pg.Client;

// The lookup of audit_append_zones (migrations 0022 and 0024; 0024 passes the zone's own slice of the ids).
const LOOKUP = 'SELECT EXISTS (SELECT 1 FROM caracal.audit_events a WHERE a.zone_id = $1 AND a.event_id = ANY ($2::uuid[]))';

beforeAll(async () => {
  h = await createHarness('partition_stats');
  svc = await h.start({ AUDIT_SWEEP_INTERVAL_S: '0' });
  session = new pg.Client({ connectionString: h.db.roleUrl('audit') });
  await session.connect();
});
afterAll(async () => {
  await session.end();
  await h.cleanup();
});

const analyzedTotal = async () => {
  const body = await h.metrics(svc);
  return Number(/^caracal_audit_partitions_analyzed_total(?:\{[^}]*\})? (\d+)/m.exec(body)?.[1] ?? 0);
};

/** The cached plan of `lookup` in `session`, run for `zone` and three ids no row has, as text. */
async function lookupPlan(zone: string): Promise<string> {
  const ids = [randomUUID(), randomUUID(), randomUUID()].map((id) => `'${id}'`).join(',');
  const res = await session.query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE lookup('${zone}', ARRAY[${ids}]::uuid[])`);
  return res.rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
}

describe('partition statistics', () => {
  it('a lookup planned on an empty partition is planned again through the event-id index once ingest has analyzed it', async () => {
    const z = await h.zone();
    const partition = (await adminQuery(h.db.adminUrl, `SELECT 'audit_events_' || to_char(now(), 'YYYY_MM') AS p`)).rows[0]!.p as string;
    // Autovacuum off for this partition: only the ingest can analyze it during the test.
    await adminQuery(h.db.adminUrl, `ALTER TABLE caracal.${partition} SET (autovacuum_enabled = false)`);
    await session.query("SELECT set_config('caracal.zone_id', $1, false)", [z]);
    await session.query('SET plan_cache_mode = force_generic_plan');
    await session.query(`PREPARE lookup(uuid, uuid[]) AS ${LOOKUP}`);
    // Planned now, while this month's partition is empty: the zone's rows through (zone_id, occurred_at).
    expect(await lookupPlan(z)).toMatch(new RegExp(`${partition}_zone_id_occurred_at_idx`));

    const burst = 1000;
    await Promise.all(Array.from({ length: burst }, (_, i) => h.publish(h.event(z, { data: { i } }))));
    await h.waitFor('burst chained', async () => (await h.rows(z)).length === burst);
    const pages = await adminQuery(h.db.adminUrl, `SELECT pg_relation_size($1::regclass) / 8192 AS n`, [`caracal.${partition}`]);
    expect(Number(pages.rows[0]!.n)).toBeGreaterThanOrEqual(ANALYZE_MIN_PAGES);

    // A trickle keeps ingest appending; it asks for statistics at most once a second.
    let sent = burst;
    await h.waitFor(
      'partition analyzed by ingest',
      async () => {
        await h.publish(h.event(z, { data: { i: sent++ } }));
        await new Promise((r) => setTimeout(r, 200));
        return (await analyzedTotal()) >= 1;
      },
      30_000,
    );
    const stats = await adminQuery(h.db.adminUrl, 'SELECT last_analyze FROM pg_stat_all_tables WHERE relid = $1::regclass', [`caracal.${partition}`]);
    expect(stats.rows[0]!.last_analyze).not.toBeNull();

    const plan = await lookupPlan(z);
    expect(plan).toMatch(new RegExp(`${partition}_zone_id_event_id_idx`));
    expect(plan).toMatch(/Index Cond: \(\(zone_id = \$1\) AND \(event_id = ANY \(\$2\)\)\)/);
    expect(plan).not.toMatch(/Rows Removed by Filter/);
    // A partition with statistics is left to autovacuum.
    const again = await adminQuery(h.db.roleUrl('audit'), 'SELECT * FROM caracal.audit_analyze_partitions($1) AS name', [ANALYZE_MIN_PAGES]);
    expect(again.rows).toEqual([]);
  });

  it('refuses a threshold below one, and any role but the audit service', async () => {
    for (const bad of ['0', '-5', 'NULL']) {
      await expect(adminQuery(h.db.roleUrl('audit'), `SELECT * FROM caracal.audit_analyze_partitions(${bad})`)).rejects.toMatchObject({ code: '22023' });
    }
    for (const role of ['api', 'sts', 'gateway', 'coordinator'] as const) {
      await expect(adminQuery(h.db.roleUrl(role), 'SELECT * FROM caracal.audit_analyze_partitions(32)')).rejects.toThrow(/permission denied/);
    }
  });
});
