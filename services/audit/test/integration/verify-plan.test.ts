// How verification reads a chain (R-AUD-3, packages/ledger verify-zone.ts): every window is an ordered range of the
// primary key (zone_id, chain_seq, recorded_at). Two zones of 10,000 rows, appended in turns and analyzed: a window
// of 5,000 sequences (smaller than verifyZone's default, so one zone takes two) looks to the planner like a quarter of
// the partition, and left to itself it reads the zone through another index or the whole partition, then sorts. Each
// COPY verifyZone runs is planned here in the transaction that runs it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainKey, createPool, withZone, type Pool, type PoolClient } from '../../../../packages/db/dist/index.js';
import { appendZoneBatch, canonicalEvent, copyTuples, verifyZone, type LedgerEvent } from '../../../../packages/ledger/dist/index.js';
import { adminQuery } from '../../../../test-support/db.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness;
let pool: Pool;
const zones: string[] = [];
const PER_ZONE = 10_000;
const TURN = 250;

beforeAll(async () => {
  h = await createHarness('verify_plan');
  pool = createPool({ connectionString: h.db.roleUrl('audit'), applicationName: 'test-verify-plan', max: 2 });
  zones.push(await h.zone(), await h.zone());
  const key = chainKey(h.hmacKey);
  for (let done = 0; done < PER_ZONE; done += TURN) {
    for (const z of zones) {
      const events = Array.from({ length: TURN }, (_, i) => {
        const parsed = canonicalEvent(h.event(z, { data: { i: done + i } }));
        if (!parsed.ok) throw new Error(parsed.detail);
        return parsed.event;
      }) satisfies LedgerEvent[];
      await withZone(pool, z, (c) => appendZoneBatch(c, key, z, events, new Date()));
    }
  }
  const partition = (await adminQuery(h.db.adminUrl, `SELECT 'caracal.audit_events_' || to_char(now(), 'YYYY_MM') AS p`)).rows[0]!.p as string;
  await adminQuery(h.db.adminUrl, `ANALYZE ${partition}`);
}, 120_000);
afterAll(async () => {
  await pool.end();
  await h.cleanup();
});

const planOf = async (c: PoolClient, select: string) =>
  (await c.query(`EXPLAIN (COSTS OFF) ${select}`)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');

/** A pool whose clients plan each COPY of verifyZone (EXPLAIN of its SELECT, in the same transaction) before running it. */
function planningPool(plans: Array<{ select: string; plan: string }>): Pool {
  const patched = new WeakSet<PoolClient>();
  const connect = async () => {
    const c = await pool.connect();
    if (!patched.has(c)) {
      patched.add(c);
      const query = c.query.bind(c) as (q: unknown, values?: unknown[]) => Promise<unknown>;
      (c as unknown as { query: typeof query }).query = async (q: unknown, values?: unknown[]) => {
        const copy = /^COPY \((SELECT[\s\S]*)\) TO STDOUT/.exec((q as { text?: string })?.text ?? '');
        if (copy) plans.push({ select: copy[1]!, plan: await planOf(c, copy[1]!) });
        return query(q, values);
      };
    }
    return c;
  };
  return new Proxy(pool, { get: (target, prop) => (prop === 'connect' ? connect : Reflect.get(target, prop, target)) });
}

/** The plan's scan and ordering nodes, without partition names or conditions. */
const nodes = (plan: string) => [...new Set(plan.split('\n').map((l) => /^\s*(?:->\s+)?(Index Scan|Index Only Scan|Bitmap Heap Scan|Seq Scan|Sort|Incremental Sort|Gather|Gather Merge|Merge Append)(?=$| using | on )/.exec(l)?.[1]).filter(Boolean))].sort();

describe('the chain walk', () => {
  it('pages through the primary key in order, where the planner on its own would scan and sort', async () => {
    const plans: Array<{ select: string; plan: string }> = [];
    const report = await verifyZone({ pool: planningPool(plans), redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey), windowSeqs: 5000 }, zones[0]!);
    expect(report).toMatchObject({ ok: true, checked: PER_ZONE, breaks: [] });
    expect(plans).toHaveLength(2);
    for (const { plan } of plans) {
      expect(nodes(plan)).toEqual(['Index Scan', 'Merge Append']);
      expect(plan).toMatch(/Index Scan using audit_events_\d{4}_\d{2}_pkey/);
    }
    // The default window takes the whole zone in one COPY, walked the same way.
    const whole: Array<{ select: string; plan: string }> = [];
    expect(await verifyZone({ pool: planningPool(whole), redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey) }, zones[0]!)).toEqual(report);
    expect(whole).toHaveLength(1);
    expect(nodes(whole[0]!.plan)).toEqual(['Index Scan', 'Merge Append']);
    // The same first page, planned in a transaction that binds only the zone: what the walk would do without its settings.
    const first = plans[0]!;
    const unguided = await withZone(pool, zones[0]!, (c) => planOf(c, first.select));
    expect(nodes(unguided)).not.toEqual(['Index Scan', 'Merge Append']);
  });

  it('refuses a window that would not move the walk forward', async () => {
    for (const windowSeqs of [0, -5, 2.5, Number.NaN]) {
      await expect(verifyZone({ pool, redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey), windowSeqs }, zones[0]!)).rejects.toThrow(RangeError);
    }
  });

  it('leaves no timer behind: pg starts its query_timeout timer for a COPY as for any statement, and the COPY ends it', async () => {
    const client = new pg.Client({ connectionString: h.db.roleUrl('audit'), query_timeout: 60_000 });
    await client.connect();
    try {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = timers();
      let rows = 0;
      for (let i = 0; i < 5; i++) await copyTuples(client, 'SELECT 1', 1, () => rows++);
      expect(rows).toBe(5);
      // A timer left per COPY would be five more, each keeping the process alive for a minute.
      expect(timers()).toBeLessThanOrEqual(before + 1);
    } finally {
      await client.end();
    }
  });
});
