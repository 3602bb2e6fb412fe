// Receipt time and head history (R-AUD-2, R-AUD-3), with a superuser connection and direct Redis writes as an
// attacker would make them: `recorded_at` is under the content hash; the newest rows deleted together with the
// Redis head, or an older signed head restored, is a break named with zone and sequence; rows hashed before
// migration 0012 still verify by their own field list.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHmac, chainKey, GENESIS, sha256Fields } from '../../../../packages/db/dist/index.js';
import { canonicalEvent, contentFields, headKey, verifyZone } from '../../../../packages/ledger/dist/index.js';
import { adminQuery } from '../../../../test-support/db.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness;
let svc: Awaited<ReturnType<Harness['start']>>;

beforeAll(async () => {
  h = await createHarness('head_history');
  svc = await h.start({ AUDIT_SWEEP_INTERVAL_S: '0' });
});
afterAll(async () => h.cleanup());

const sql = (text: string, params: unknown[]) => adminQuery(h.db.adminUrl, text, params);

async function extend(z: string, n: number): Promise<void> {
  const before = (await h.rows(z)).length;
  for (let i = 0; i < n; i++) await h.publish(h.event(z, { data: { i: before + i } }));
  await h.waitFor('chain', async () => (await h.rows(z)).length === before + n);
  // The head is recorded in Postgres right after it reached Redis.
  await h.waitFor('recorded head', async () => (await sql('SELECT max(seq) AS s FROM caracal.audit_chain_heads WHERE zone_id = $1', [z])).rows[0]?.s === String(before + n));
}

async function breaksOf(zone: string) {
  const result = await svc.sweep.run();
  return result.broken.find((r) => r.zone_id === zone)?.breaks.map((b) => ({ zone_id: b.zone_id, seq: b.seq, kind: b.kind })) ?? [];
}

describe('recorded_at under the content hash', () => {
  it('new rows are hash version 2; recorded_at moved by a millisecond → content_mismatch at that zone and sequence', async () => {
    const z = await h.zone();
    await extend(z, 6);
    expect((await h.rows(z)).map((r) => r.hash_version)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(await breaksOf(z)).toEqual([]);
    await sql("UPDATE caracal.audit_events SET recorded_at = recorded_at + interval '1 millisecond' WHERE zone_id = $1 AND chain_seq = 4", [z]);
    expect(await breaksOf(z)).toEqual([{ zone_id: z, seq: 4, kind: 'content_mismatch' }]);
  });

  it('a version 2 row relabelled version 1 (to drop recorded_at from its hash) → content_mismatch', async () => {
    const z = await h.zone();
    await extend(z, 3);
    await sql('UPDATE caracal.audit_events SET hash_version = 1 WHERE zone_id = $1 AND chain_seq = 2', [z]);
    expect(await breaksOf(z)).toEqual([{ zone_id: z, seq: 2, kind: 'content_mismatch' }]);
  });

  it('rows hashed before migration 0012 (version 1) verify as hashed, and the chain continues past them in version 2', async () => {
    const z = await h.zone();
    const key = chainKey(h.hmacKey);
    let prev = GENESIS;
    for (let seq = 1; seq <= 3; seq++) {
      const parsed = canonicalEvent(h.event(z, { data: { seq } }));
      if (!parsed.ok) throw new Error(parsed.detail);
      const e = parsed.event;
      const content = sha256Fields(contentFields(e, e.data));
      await sql(
        `INSERT INTO caracal.audit_events (event_id, zone_id, chain_seq, recorded_at, occurred_at, source, event_type, decision, reason, request_id, data, data_canonical, content_sha256, prev_content_sha256, chain_hmac)
         VALUES ($1, $2, $3, now(), $4, $5, $6, $7, $8, $9, $10::jsonb, $14::text, $11, $12, $13)`,
        [e.event_id, z, seq, e.occurred_at, e.source, e.event_type, e.decision, e.reason, e.request_id, e.data, content, prev, chainHmac(key, content, prev), e.data],
      );
      prev = content;
    }
    await extend(z, 2);
    expect((await h.rows(z)).map((r) => [Number(r.chain_seq), r.hash_version])).toEqual([[1, 1], [2, 1], [3, 1], [4, 2], [5, 2]]);
    expect(await breaksOf(z)).toEqual([]);
  });
});

describe('every published head kept', () => {
  it('newest rows deleted together with the Redis head key → head_missing and truncated; new events are not chained over the gap', async () => {
    const z = await h.zone();
    await extend(z, 10);
    await sql('DELETE FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq > 8', [z]);
    await h.redis.del(headKey(h.keys, z));
    expect(await breaksOf(z)).toEqual([
      { zone_id: z, seq: 10, kind: 'head_missing' },
      { zone_id: z, seq: 9, kind: 'truncated' },
    ]);
    const report = await verifyZone({ pool: svc.deps.pool, redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey) }, z);
    expect(report).toMatchObject({ ok: false, published_head: null, recorded_head: { seq: 10 }, warnings: [] });
    await h.publish(h.event(z));
    await h.waitFor('late event dead-lettered', async () => (await h.dlq()).some((d) => d._dlq_reason === 'chain_behind_head' && JSON.parse(d.data!).zone_id === z));
    expect((await h.rows(z)).map((r) => Number(r.chain_seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('an older signed head restored after the newest rows were deleted → head_rolled_back and truncated', async () => {
    const z = await h.zone();
    await extend(z, 5);
    const older = await h.redis.hgetall(headKey(h.keys, z));
    await extend(z, 5);
    await sql('DELETE FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq > 5', [z]);
    await h.redis.del(headKey(h.keys, z));
    await h.redis.hset(headKey(h.keys, z), older);
    expect(await breaksOf(z)).toEqual([
      { zone_id: z, seq: 5, kind: 'head_rolled_back' },
      { zone_id: z, seq: 6, kind: 'truncated' },
    ]);
  });

  it('an older signed head restored over an intact table → head_rolled_back', async () => {
    const z = await h.zone();
    await extend(z, 3);
    const older = await h.redis.hgetall(headKey(h.keys, z));
    await extend(z, 2);
    await h.redis.del(headKey(h.keys, z));
    await h.redis.hset(headKey(h.keys, z), older);
    expect(await breaksOf(z)).toEqual([{ zone_id: z, seq: 3, kind: 'head_rolled_back' }]);
  });

  it('the audit role can add head records but not change or delete them', async () => {
    const z = await h.zone();
    await extend(z, 1);
    const asAudit = (text: string) => adminQuery(h.db.roleUrl('audit'), text, []);
    await expect(asAudit(`DELETE FROM caracal.audit_chain_heads WHERE zone_id = '${z}'`)).rejects.toThrow(/permission denied/);
    await expect(asAudit(`UPDATE caracal.audit_chain_heads SET seq = 1000 WHERE zone_id = '${z}'`)).rejects.toThrow(/permission denied/);
  });

  it('a zone whose head was published before heads were recorded gets its verified head recorded by the sweep', async () => {
    const z = await h.zone();
    await extend(z, 4);
    await sql('DELETE FROM caracal.audit_chain_heads WHERE zone_id = $1', [z]);
    expect(await breaksOf(z)).toEqual([]);
    expect((await sql('SELECT seq FROM caracal.audit_chain_heads WHERE zone_id = $1', [z])).rows).toEqual([{ seq: '4' }]);
    await h.redis.del(headKey(h.keys, z));
    expect(await breaksOf(z)).toEqual([{ zone_id: z, seq: 4, kind: 'head_missing' }]);
  });
});
