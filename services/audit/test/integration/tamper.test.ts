// Tamper evidence (R-AUD-3): with a superuser connection, each way of rewriting history — one field changed, a
// middle row deleted, the newest rows deleted, two sequence numbers swapped, a content hash recomputed without the
// key — is detected by the sweep, named with zone, sequence and kind, and shown by /ready and /metrics. Each case is
// verified again in windows of three sequences (the walk's transaction boundaries falling among the breaks): the
// same report.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery } from '../../../../test-support/db.js';
import { chainKey, createPool, sha256Fields, type Pool } from '../../../../packages/db/dist/index.js';
import { contentFields, verifyZone } from '../../../../packages/ledger/dist/index.js';
import type { AuditRunnable } from '../../src/app.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness;
let svc: AuditRunnable;
let pool: Pool;
const N = 10;

beforeAll(async () => {
  h = await createHarness('tamper');
  svc = await h.start({ AUDIT_SWEEP_INTERVAL_S: '0' });
  pool = createPool({ connectionString: h.db.roleUrl('audit'), applicationName: 'test-tamper', max: 2 });
});
afterAll(async () => {
  await pool.end();
  await h.cleanup();
});

async function chain(): Promise<string> {
  const z = await h.zone();
  for (let i = 0; i < N; i++) await h.publish(h.event(z, { data: { i } }));
  await h.waitFor('chain', async () => (await h.rows(z)).length === N);
  return z;
}

const sql = (text: string, params: unknown[]) => adminQuery(h.db.adminUrl, text, params);

async function breaksOf(zone: string) {
  const result = await svc.sweep.run();
  const report = result.broken.find((r) => r.zone_id === zone);
  const inSmallWindows = await verifyZone({ pool, redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey), windowSeqs: 3 }, zone);
  // The head recorded in Postgres is left out: the service records a published head's mark a moment after the sweep
  // may have read it, and the rows' walk has no part in it.
  const walked = ({ recorded_head: _recorded, ...rest }: typeof inSmallWindows) => rest;
  expect(walked(inSmallWindows)).toEqual(walked(report ?? inSmallWindows));
  expect(inSmallWindows.ok).toBe(!report);
  return report?.breaks.map((b) => ({ zone_id: b.zone_id, seq: b.seq, kind: b.kind })) ?? [];
}

describe('tamper sweep', () => {
  it('finds nothing in intact chains, and /ready passes', async () => {
    const z = await chain();
    expect(await breaksOf(z)).toEqual([]);
    expect((await svc.app.inject('/ready')).statusCode).toBe(200);
  });

  it('one field of one row changed → content_mismatch at that sequence; /ready and /metrics report it', async () => {
    const z = await chain();
    await sql("UPDATE caracal.audit_events SET decision = 'deny' WHERE zone_id = $1 AND chain_seq = 5", [z]);
    expect(await breaksOf(z)).toEqual([{ zone_id: z, seq: 5, kind: 'content_mismatch' }]);
    const ready = await svc.app.inject('/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ ok: false, ready: false, service: 'audit', reason: 'audit_chain_broken' });
    expect(await h.metrics(svc)).toContain(`caracal_audit_chain_breaks{zone="${z}",service="audit"} 1`);
  });

  it("the event's JSON changed (rewritten, or made unreadable) → content_mismatch at that row", async () => {
    const z = await chain();
    await sql(`UPDATE caracal.audit_events SET data_canonical = replace(data_canonical, '"i":2', '"i":99') WHERE zone_id = $1 AND chain_seq = 3`, [z]);
    await sql("UPDATE caracal.audit_events SET data_canonical = '{not json' WHERE zone_id = $1 AND chain_seq = 7", [z]);
    expect(await breaksOf(z)).toEqual([
      { zone_id: z, seq: 3, kind: 'content_mismatch' },
      { zone_id: z, seq: 7, kind: 'content_mismatch' },
    ]);
  });

  // In the second case the oldest rows lie past the first window of three: the small-window walk reads (0, 3] empty
  // and must still find sequence 5.
  for (const [name, where, breaks] of [
    ['a middle row deleted → sequence_gap there and a chain_break at the next row', 'chain_seq = 5', [[5, 'sequence_gap'], [6, 'chain_break']]],
    ['the oldest rows deleted, with no retention anchor → sequence_gap from 1 and a chain_break at the first row left', 'chain_seq <= 4', [[1, 'sequence_gap'], [5, 'chain_break']]],
  ] as const) {
    it(name, async () => {
      const z = await chain();
      await sql(`DELETE FROM caracal.audit_events WHERE zone_id = $1 AND ${where}`, [z]);
      expect(await breaksOf(z)).toEqual(breaks.map(([seq, kind]) => ({ zone_id: z, seq, kind })));
    });
  }

  it('the newest rows deleted → truncated, caught by the published head', async () => {
    const z = await chain();
    await sql('DELETE FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq > 8', [z]);
    expect(await breaksOf(z)).toEqual([{ zone_id: z, seq: 9, kind: 'truncated' }]);
    // New events do not paper over the gap: the zone is not extended, the events wait in the DLQ.
    const late = [h.event(z), h.event(z)];
    for (const e of late) await h.publish(e);
    await h.waitFor('late events dead-lettered', async () => (await h.dlq()).filter((d) => d._dlq_reason === 'chain_behind_head').length === 2);
    expect((await h.rows(z)).map((r) => Number(r.chain_seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await breaksOf(z)).toEqual([{ zone_id: z, seq: 9, kind: 'truncated' }]);
  });

  it("two rows' sequence numbers swapped → chain_break at both and at the row after", async () => {
    const z = await chain();
    // Three steps: the primary key is checked row by row.
    for (const [from, to] of [[5, 1000], [6, 5], [1000, 6]]) await sql('UPDATE caracal.audit_events SET chain_seq = $3 WHERE zone_id = $1 AND chain_seq = $2', [z, from, to]);
    expect(await breaksOf(z)).toEqual([
      { zone_id: z, seq: 5, kind: 'chain_break' },
      { zone_id: z, seq: 6, kind: 'chain_break' },
      { zone_id: z, seq: 7, kind: 'chain_break' },
    ]);
  });

  it('a forged row with a sequence near 2^63 is reported, and the walk does not break on it', async () => {
    const z = await chain();
    await sql(
      `INSERT INTO caracal.audit_events (event_id, zone_id, chain_seq, recorded_at, occurred_at, source, event_type, data, data_canonical, content_sha256, prev_content_sha256, chain_hmac)
       SELECT gen_random_uuid(), zone_id, 9223372036854775000, recorded_at, occurred_at, source, event_type, data, data_canonical, content_sha256, prev_content_sha256, chain_hmac
         FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq = 10`,
      [z],
    );
    const kinds = (await breaksOf(z)).map((b) => b.kind);
    expect(kinds[0]).toBe('sequence_gap');
    expect(kinds).toContain('content_mismatch');
    expect((await svc.app.inject('/ready')).json()).toMatchObject({ ready: false, reason: 'audit_chain_broken' });
  });

  it('a row changed and its content_sha256 recomputed without the key → hmac_mismatch there, chain_break next', async () => {
    const z = await chain();
    const row = (await h.rows(z))[4]!;
    const forged = { ...row, reason: 'rewritten', occurred_at: row.occurred_at.toISOString(), data: row.data_canonical } as any;
    const hashed = sha256Fields(contentFields(forged, forged.data, row.recorded_at.toISOString()));
    await sql("UPDATE caracal.audit_events SET reason = 'rewritten', content_sha256 = $2 WHERE zone_id = $1 AND chain_seq = 5", [z, hashed]);
    expect(await breaksOf(z)).toEqual([
      { zone_id: z, seq: 5, kind: 'hmac_mismatch' },
      { zone_id: z, seq: 6, kind: 'chain_break' },
    ]);
  });
});
