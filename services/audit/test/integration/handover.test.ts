// Graceful handover between audit processes (R-STR-4): a consumer stopped while it holds events it could not commit
// hands them to the consumer `handover` and leaves the group; the next consumer takes them at once, long before
// the idle time after which a dead consumer's entries are reclaimed; every event is in the ledger exactly once.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainKey, createPool } from '../../../../packages/db/dist/index.js';
import { verifyZone } from '../../../../packages/ledger/dist/index.js';
import { HANDOVER_CONSUMER, STREAMS, toFields } from '../../../../packages/streams/dist/index.js';
import { adminQuery } from '../../../../test-support/db.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await createHarness('handover');
});
afterAll(async () => h.cleanup());

/** The advisory lock a zone's ledger append takes (migration 0012); held here, appends wait and time out. */
const ZONE_APPEND_LOCK = 1818584167;
const SLOW = { AUDIT_RECLAIM_IDLE_MS: '600000', PG_QUERY_TIMEOUT_MS: '300', AUDIT_SWEEP_INTERVAL_S: '0' };

const rows = async (zone: string) =>
  (await adminQuery<{ n: string; ids: string }>(h.db.adminUrl, 'SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM caracal.audit_events WHERE zone_id = $1', [zone])).rows[0]!;
const pendingBy = async (): Promise<Record<string, number>> => {
  // The service creates its group once Redis answers; until then nothing is pending.
  const summary = (await h.redis.xpending(h.keys.key(STREAMS.auditEvents), 'audit').catch(() => [0, null, null, null])) as [number, string | null, string | null, Array<[string, string]> | null];
  return Object.fromEntries((summary[3] ?? []).map(([c, n]) => [c, Number(n)]));
};
const consumers = async () =>
  ((await h.redis.xinfo('CONSUMERS', h.keys.key(STREAMS.auditEvents), 'audit')) as unknown[][]).map((c) => toFields(c.map(String)).name);

describe('audit consumer handover', () => {
  it('a stopped consumer hands its pending events over; the next one commits them at once, each exactly once', async () => {
    const zone = await h.zone();
    const lock = new pg.Client({ connectionString: h.db.adminUrl });
    await lock.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1, hashtext($2::uuid::text))', [ZONE_APPEND_LOCK, zone]);
      const first = await h.start(SLOW);
      const ids = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const e = h.event(zone, { data: { i } });
        ids.add(e.id as string);
        await h.publish(e);
      }
      await h.waitFor('the first consumer to hold all 20', async () => (await pendingBy())[first.deps.instance] === 20, 15_000);
      expect((await rows(zone)).n).toBe('0');

      const stopping = Date.now();
      await h.stop(first);
      expect(Date.now() - stopping).toBeLessThan(5000);
      expect(await pendingBy()).toEqual({ [HANDOVER_CONSUMER]: 20 });
      expect(await consumers()).not.toContain(first.deps.instance);
      expect((await rows(zone)).n).toBe('0');

      await lock.query('SELECT pg_advisory_unlock($1, hashtext($2::uuid::text))', [ZONE_APPEND_LOCK, zone]);
      // Published while no consumer runs: read as new by the next one.
      for (let i = 20; i < 30; i++) {
        const e = h.event(zone, { data: { i } });
        ids.add(e.id as string);
        await h.publish(e);
      }

      const next = await h.start(SLOW);
      expect(next.deps.instance).not.toBe(first.deps.instance);
      const started = Date.now();
      await h.waitFor('all 30 in the ledger', async () => (await rows(zone)).n === '30', 20_000);
      // The idle time is ten minutes: taking the handed-over events did not wait for it.
      expect(Date.now() - started).toBeLessThan(10_000);
      await h.waitFor('nothing pending', async () => Object.keys(await pendingBy()).length === 0, 10_000);
      expect(await rows(zone)).toEqual({ n: '30', ids: '30' });
      const stored = await adminQuery<{ event_id: string }>(h.db.adminUrl, 'SELECT event_id FROM caracal.audit_events WHERE zone_id = $1', [zone]);
      expect(new Set(stored.rows.map((r) => r.event_id))).toEqual(ids);
      expect(await h.dlq()).toEqual([]);
      const pool = createPool({ connectionString: h.db.roleUrl('audit'), applicationName: 'handover-test' });
      try {
        expect(await verifyZone({ pool, redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey) }, zone)).toMatchObject({ ok: true, checked: 30 });
      } finally {
        await pool.end();
      }
      await h.stop(next);
      expect(await consumers()).not.toContain(next.deps.instance);
    } finally {
      await lock.end();
    }
  });

  it('a consumer with nothing pending leaves the group when it stops', async () => {
    const zone = await h.zone();
    const r = await h.start({ AUDIT_SWEEP_INTERVAL_S: '0' });
    await h.publish(h.event(zone));
    await h.waitFor('the event in the ledger', async () => (await rows(zone)).n === '1', 15_000);
    // The only consumer running: Redis adds it to the group with its first delivery.
    expect(await consumers()).toContain(r.deps.instance);
    await h.stop(r);
    expect(await consumers()).not.toContain(r.deps.instance);
    expect(await pendingBy()).toEqual({});
  });

  it('names its consumer after the instance id the supervisor gave', async () => {
    const zone = await h.zone();
    const r = await h.start({ AUDIT_SWEEP_INTERVAL_S: '0', CARACAL_INSTANCE_ID: 'audit-9.9.9-4242-1' });
    expect(r.deps.instance).toBe('audit-9.9.9-4242-1');
    await h.publish(h.event(zone));
    await h.waitFor('the event in the ledger', async () => (await rows(zone)).n === '1', 15_000);
    expect(await consumers()).toContain('audit-9.9.9-4242-1');
    await h.stop(r);
  });
});
