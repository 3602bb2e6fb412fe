// Ingest into the ledger (R-AUD-2, R-STR-3, R-STR-4), against real Postgres and Redis: concurrent zones end in
// gap-free chains, bad messages go to the DLQ with their reason and never block the stream, redeliveries are
// idempotent, and an id reused with other content is an alert plus a DLQ entry.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainKey } from '../../../../packages/db/dist/index.js';
import { verifyZone } from '../../../../packages/ledger/dist/index.js';
import { STREAMS } from '../../../../packages/streams/dist/index.js';
import { createHarness, hex, type Harness } from './harness.js';

let h: Harness;

/** Holds a zone's append lock (migration 0009's advisory lock) from another session for `ms`; resolves once taken. */
async function holdAppendLock(zoneId: string, ms: number): Promise<void> {
  const c = new pg.Client({ connectionString: h.db.adminUrl });
  await c.connect();
  await c.query('BEGIN');
  await c.query('SELECT pg_advisory_xact_lock(1818584167, hashtext($1))', [zoneId]);
  setTimeout(() => void c.query('COMMIT').finally(() => c.end()), ms);
}

beforeAll(async () => {
  h = await createHarness('ingest');
});
afterAll(async () => h.cleanup());


describe('audit ingest', () => {
  it('chains events from several zones, published concurrently, into gap-free per-zone chains that verify', async () => {
    const zones = await Promise.all(Array.from({ length: 5 }, () => h.zone()));
    const svc = await h.start();
    const per = 200;
    await Promise.all(zones.map(async (z) => {
      for (let i = 0; i < per; i++) await h.publish(h.event(z, { data: { i } }));
    }));
    await h.waitFor('all rows', async () => (await Promise.all(zones.map((z) => h.rows(z)))).every((r) => r.length === per));
    for (const z of zones) {
      const rows = await h.rows(z);
      expect(rows.map((r) => Number(r.chain_seq))).toEqual(Array.from({ length: per }, (_, i) => i + 1));
      expect(rows.map((r) => r.data.data.i)).toEqual(Array.from({ length: per }, (_, i) => i));
      expect(rows[0]!.prev_content_sha256).toBe('0'.repeat(64));
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_content_sha256).toBe(rows[i - 1]!.content_sha256);
      const report = await verifyZone({ pool: svc.deps.pool, redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey) }, z);
      expect(report).toMatchObject({ ok: true, checked: per, last_seq: per, breaks: [] });
      expect(report.published_head?.seq).toBe(per);
    }
    const sweep = await svc.sweep.run();
    expect(sweep.broken).toEqual([]);
    expect(sweep.checked).toBeGreaterThanOrEqual(zones.length * per);
    expect((await svc.app.inject('/ready')).statusCode).toBe(200);
    await h.stopAll();
  });

  it('sends bad messages to the DLQ with the right reason and keeps chaining the good ones behind them', async () => {
    const z = await h.zone();
    const good1 = h.event(z);
    await h.publish(good1);
    const sig = hex();
    const forgedData = JSON.stringify(h.event(z));
    const noZone = h.event(z);
    delete noZone.zone_id;
    const bad = {
      missing_data: await h.publishRaw({ sig }),
      bad_signature: await h.publishRaw({ data: forgedData, sig }),
      invalid_json: await h.publish('{"id": not json' as never),
      missing_zone: await h.publish(noZone),
      oversized: await h.publish(h.event(z, { data: { blob: 'x'.repeat(70 * 1024) } })),
      invalid_event: await h.publish(h.event(z, { decision: 'maybe' })),
      unknown_zone: await h.publish(h.event('00000000-0000-4000-8000-000000000000')),
    };
    const good2 = h.event(z);
    await h.publish(good2);
    // The zone's append lock held past the reclaim idle time (500 ms here): the first delivery is still in flight
    // when the batch is reclaimed and handled again, as happens under load. Dead-lettering is at least once (a
    // message may land in the DLQ twice), so the wait is for every bad message, not for a number of entries.
    await holdAppendLock(z, 1500);
    const svc = await h.start();
    await h.waitFor('good rows', async () => (await h.rows(z)).length === 2);
    await h.waitFor('every bad message in the dlq', async () => {
      const ids = new Set((await h.dlq()).map((e) => e._dlq_source_id));
      return Object.values(bad).every((id) => ids.has(id));
    });
    const dlq = await h.dlq();
    for (const [reason, id] of Object.entries(bad)) {
      const entries = dlq.filter((e) => e._dlq_source_id === id);
      expect(entries.length, reason).toBeGreaterThan(0);
      for (const entry of entries) {
        expect(entry._dlq_reason).toBe(reason);
        expect(entry._dlq_detail).not.toBe('');
      }
    }
    // The forged message keeps its original fields so the DLQ can be inspected (and replayed once fixed).
    expect(dlq.find((e) => e._dlq_reason === 'bad_signature')).toMatchObject({ data: forgedData, sig });
    expect((await h.rows(z)).map((r) => r.event_id)).toEqual([good1.id, good2.id]);
    // Nothing is left pending: the stream is not blocked.
    await h.waitFor('no pending', async () => Number(((await h.redis.xpending(h.keys.key(STREAMS.auditEvents), 'audit')) as [number])[0]) === 0);
    const metrics = await svc.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${h.env().METRICS_BEARER}` } });
    expect(metrics.statusCode).toBe(401); // a fresh env() has a new bearer: the metrics stay closed to it
    await h.stopAll();
  });

  it('is idempotent on event id: a redelivered event is stored once; the same id with other content is an alert and a DLQ entry', async () => {
    const z = await h.zone();
    const e = h.event(z);
    await h.publish(e);
    await h.publish(e);
    await h.publish({ ...e, reason: 'tampered-replay' });
    await h.publish(h.event(z));
    await h.start();
    await h.waitFor('rows', async () => (await h.rows(z)).length === 2);
    await h.waitFor('conflict in dlq', async () => (await h.dlq()).some((d) => d._dlq_reason === 'duplicate_event_id'));
    // A later redelivery of the same event (say, a producer's spill replay) changes nothing either.
    await h.publish(e);
    await h.publish(h.event(z));
    await h.waitFor('rows', async () => (await h.rows(z)).length === 3);
    const rows = await h.rows(z);
    expect(rows.filter((r) => r.event_id === e.id)).toHaveLength(1);
    expect(rows.map((r) => Number(r.chain_seq))).toEqual([1, 2, 3]);
    const conflict = (await h.dlq()).find((d) => d._dlq_reason === 'duplicate_event_id')!;
    expect(JSON.parse(conflict.data!).reason).toBe('tampered-replay');
    await h.stopAll();
  });
});
