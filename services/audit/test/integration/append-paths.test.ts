// The one-statement append (migration 0024; 0022's form, which the previous release calls) and the two-step append it falls back to (R-AUD-2, R-AUD-3): the zones
// this process appended to continue from the tips it left, all in one statement, with the previous heads' marks;
// a table that moved under it (another writer, deleted rows, a redelivered id) gets nothing inserted by that
// statement and the two-step append continues the real chain; two services ingesting the same zones keep every
// chain whole.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainKey, withZone } from '../../../../packages/db/dist/index.js';
import { appendFromTips, appendZoneBatch, canonicalEvent, verifyZone, type LedgerEvent } from '../../../../packages/ledger/dist/index.js';
import { adminQuery } from '../../../../test-support/db.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness;
let svc: Awaited<ReturnType<Harness['start']>>;

beforeAll(async () => {
  h = await createHarness('append_paths');
  svc = await h.start({ AUDIT_SWEEP_INTERVAL_S: '0' });
});
afterAll(async () => h.cleanup());

const sql = (text: string, params: unknown[] = []) => adminQuery(h.db.adminUrl, text, params);

async function appends(s = svc): Promise<{ one_statement: number; two_step: number }> {
  const body = await h.metrics(s);
  const count = (path: string) => Number(new RegExp(`^caracal_audit_appends_total\\{path="${path}"[^}]*\\} (\\d+)`, 'm').exec(body)?.[1] ?? 0);
  return { one_statement: count('one_statement'), two_step: count('two_step') };
}

/** Publishes `n` events one after another, each chained before the next is sent. */
async function extend(z: string, n: number): Promise<void> {
  const before = (await h.rows(z)).length;
  for (let i = 1; i <= n; i++) {
    await h.publish(h.event(z, { data: { i: before + i } }));
    await h.waitFor('chained', async () => (await h.rows(z)).length === before + i);
  }
}

async function verified(z: string) {
  return verifyZone({ pool: svc.deps.pool, redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey) }, z);
}

const seqs = async (z: string) => (await h.rows(z)).map((r) => Number(r.chain_seq));
const highestMark = async (z: string) => Number((await sql('SELECT max(seq) AS s FROM caracal.audit_chain_heads WHERE zone_id = $1', [z])).rows[0]?.s);

describe('appending from the tip this process left', () => {
  it('the first append of a zone reads its tip; the next ones are one statement each; every head is still recorded', async () => {
    const z = await h.zone();
    const before = await appends();
    await extend(z, 6);
    const after = await appends();
    expect(after.two_step - before.two_step).toBe(1);
    expect(after.one_statement - before.one_statement).toBe(5);
    expect(await seqs(z)).toEqual([1, 2, 3, 4, 5, 6]);
    // The last head's mark waits for a next append, then is written on its own.
    await h.waitFor('last head recorded', async () => (await highestMark(z)) === 6);
    expect(await verified(z)).toMatchObject({ ok: true, checked: 6 });
  });

  it('another writer extended the chain: the statement inserts nothing, the two-step append continues after its rows', async () => {
    const z = await h.zone();
    await extend(z, 3);
    // Another replica's append, as it makes it (its own head is not published: only the table moved).
    const other: LedgerEvent[] = [0, 1].map(() => {
      const parsed = canonicalEvent(h.event(z));
      if (!parsed.ok) throw new Error(parsed.detail);
      return parsed.event;
    });
    await withZone(svc.deps.pool, z, (c) => appendZoneBatch(c, chainKey(h.hmacKey), z, other, new Date()));
    const before = await appends();
    await extend(z, 2);
    const after = await appends();
    expect(after.two_step - before.two_step).toBe(1);
    expect(after.one_statement - before.one_statement).toBe(1);
    expect(await seqs(z)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await verified(z)).toMatchObject({ ok: true, checked: 7 });
  });

  it('one zone of a group moved under it: that zone takes the two-step append, the others go in by the one statement', async () => {
    const [moved, kept] = [await h.zone(), await h.zone()];
    await extend(moved, 2);
    await extend(kept, 2);
    const parsed = canonicalEvent(h.event(moved));
    if (!parsed.ok) throw new Error(parsed.detail);
    await withZone(svc.deps.pool, moved, (c) => appendZoneBatch(c, chainKey(h.hmacKey), moved, [parsed.event], new Date()));
    const before = await appends();
    // Both zones' events in one pipeline: the consumer reads them together.
    await Promise.all([h.publish(h.event(moved)), h.publish(h.event(kept)), h.publish(h.event(kept))]);
    await h.waitFor('both chained', async () => (await h.rows(moved)).length === 4 && (await h.rows(kept)).length === 4);
    const after = await appends();
    expect(after.two_step - before.two_step).toBe(1);
    expect(after.one_statement - before.one_statement).toBeGreaterThanOrEqual(1);
    for (const z of [moved, kept]) {
      expect(await seqs(z)).toEqual([1, 2, 3, 4]);
      expect(await verified(z)).toMatchObject({ ok: true, checked: 4 });
    }
  });

  it('a redelivered event in a one-statement batch is judged by the two-step append: stored once, no conflict', async () => {
    const z = await h.zone();
    const again = h.event(z);
    await h.publish(again);
    await h.waitFor('first chained', async () => (await h.rows(z)).length === 1);
    await extend(z, 1);
    await h.publish(again);
    await h.publish(h.event(z));
    await h.waitFor('next event chained', async () => (await h.rows(z)).length === 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(await seqs(z)).toEqual([1, 2, 3]);
    expect(await h.dlq()).toEqual([]);
    expect(await verified(z)).toMatchObject({ ok: true });
  });
});

// 0022's function is what the previous release calls during an upgrade; 0024's, with each zone's id count, is this one's.
const SIGNATURES = {
  '0022': { args: '$1::uuid[], $2::bigint[], $3::text[], $4::uuid[], $5::json[], $6::json[]', counts: false, denied: "'{}', '{[]}', '{NULL}'" },
  '0024': { args: '$1::uuid[], $2::bigint[], $3::text[], $4::integer[], $5::uuid[], $6::json[], $7::json[]', counts: true, denied: "'{0}', '{}', '{[]}', '{NULL}'" },
} as const;

describe.each(Object.entries(SIGNATURES))('the statement itself (migration %s), as the audit role', (_, sig) => {
  const call = (z: string, tipSeq: number, tipSha: string, ids: string[], mark: unknown = null) =>
    adminQuery<{ zone: string; appended: number }>(h.db.roleUrl('audit'), `SELECT * FROM caracal.audit_append_zones(${sig.args})`, [
      [z],
      [tipSeq],
      [tipSha],
      ...(sig.counts ? [[ids.length]] : []),
      ids,
      ['[]'],
      [mark === null ? null : JSON.stringify(mark)],
    ]);

  it('inserts nothing when the tip given is not the table’s, or an id is already stored', async () => {
    const z = await h.zone();
    await extend(z, 2);
    const rows = await h.rows(z);
    const tip = rows[1]!;
    // Wrong sequence, wrong hash, a stored id: each refused, table unchanged.
    expect((await call(z, 1, rows[0]!.content_sha256, [randomUUID()])).rows[0]).toEqual({ zone: z, appended: 0 });
    expect((await call(z, 2, 'f'.repeat(64), [randomUUID()])).rows[0]).toEqual({ zone: z, appended: 0 });
    expect((await call(z, 2, tip.content_sha256, [rows[0]!.event_id])).rows[0]).toEqual({ zone: z, appended: 0 });
    expect(await seqs(z)).toEqual([1, 2]);
  });

  it('refuses a table behind its highest recorded head, even when the caller names the table’s tip', async () => {
    const z = await h.zone();
    await extend(z, 4);
    await h.waitFor('head recorded', async () => (await highestMark(z)) === 4);
    await sql('DELETE FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq > 2', [z]);
    const tip = (await h.rows(z))[1]!;
    expect((await call(z, 2, tip.content_sha256, [randomUUID()])).rows[0]).toEqual({ zone: z, appended: 0 });
  });

  it('is the audit role’s alone: the API and STS roles may not call it', async () => {
    const z = await h.zone();
    for (const role of ['api', 'sts'] as const) {
      await expect(adminQuery(h.db.roleUrl(role), `SELECT * FROM caracal.audit_append_zones(ARRAY[$1::uuid], '{0}', '{x}', ${sig.denied})`, [z])).rejects.toThrow(/permission denied/);
    }
  });
});

describe('each zone’s own ids (migration 0024)', () => {
  const tipOf = async (z: string) => {
    const last = (await h.rows(z)).at(-1)!;
    return { seq: Number(last.chain_seq), content_sha256: last.content_sha256 as string, recorded_at: (last.recorded_at as Date).toISOString() };
  };
  const event = (z: string, id: string = randomUUID()) => {
    const parsed = canonicalEvent({ ...h.event(z), id });
    if (!parsed.ok) throw new Error(parsed.detail);
    return parsed.event;
  };

  it('an id stored in one zone does not refuse another zone’s append that carries it as its own', async () => {
    const [a, b] = [await h.zone(), await h.zone()];
    await extend(a, 1);
    await extend(b, 1);
    const storedInA = (await h.rows(a))[0]!.event_id as string;
    const result = await appendFromTips(svc.deps.pool, chainKey(h.hmacKey), [
      { zoneId: a, events: [event(a)], tip: await tipOf(a), mark: null },
      { zoneId: b, events: [event(b, storedInA)], tip: await tipOf(b), mark: null },
    ], new Date());
    // 0022 looked every id of the call up in every zone: zone a would have been refused for zone b's id.
    expect(result.get(a)?.appended).toHaveLength(1);
    expect(result.get(b)?.appended).toHaveLength(1);
    expect(await seqs(a)).toEqual([1, 2]);
    expect((await h.rows(b)).map((r) => r.event_id)).toEqual([expect.any(String), storedInA]);
  });

  it('16 zones (their rows a parameter each) and 17 (the rows as one json[]) append alike, and their chains verify', async () => {
    for (const n of [16, 17]) {
      const zones = await Promise.all(Array.from({ length: n }, () => h.zone()));
      for (const z of zones) await extend(z, 1);
      const result = await appendFromTips(svc.deps.pool, chainKey(h.hmacKey), await Promise.all(zones.map(async (z, i) => ({ zoneId: z, events: Array.from({ length: 1 + (i % 3) }, () => event(z)), tip: await tipOf(z), mark: null }))), new Date());
      for (const [i, z] of zones.entries()) {
        expect(result.get(z)?.appended).toHaveLength(1 + (i % 3));
        expect(await seqs(z)).toEqual(Array.from({ length: 2 + (i % 3) }, (_, k) => k + 1));
        expect(await verified(z)).toMatchObject({ ok: true, checked: 2 + (i % 3), breaks: [] });
      }
    }
  });

  it('refuses counts that do not add up to the ids given, before touching any zone', async () => {
    const z = await h.zone();
    await extend(z, 1);
    const tip = await tipOf(z);
    const call = (counts: Array<number | null>, ids: string[]) =>
      adminQuery(h.db.roleUrl('audit'), `SELECT * FROM caracal.audit_append_zones(${SIGNATURES['0024'].args})`, [[z], [tip.seq], [tip.content_sha256], counts, ids, ['[]'], [null]]);
    for (const [counts, ids] of [[[2], [randomUUID()]], [[0, 1], [randomUUID()]], [[null], []], [[-1], []]] as const) {
      await expect(call([...counts], [...ids])).rejects.toMatchObject({ code: '22023' });
    }
    expect(await seqs(z)).toEqual([1]);
  });
});

describe('two audit services ingesting the same zones', () => {
  it('every event chained exactly once, every chain whole, whichever service appended which batch', async () => {
    const second = await h.start({ AUDIT_SWEEP_INTERVAL_S: '0' });
    const zones = [await h.zone(), await h.zone(), await h.zone()];
    const ids = new Set<string>();
    for (let i = 0; i < 1500; i++) {
      const e = h.event(zones[i % 3]!);
      ids.add(e.id as string);
      await h.publish(e);
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
    }
    await h.waitFor('all chained', async () => Number((await sql('SELECT count(*) AS n FROM caracal.audit_events WHERE zone_id = ANY($1::uuid[])', [zones])).rows[0]?.n) >= 1500, 60_000);
    const stored = (await sql('SELECT event_id FROM caracal.audit_events WHERE zone_id = ANY($1::uuid[])', [zones])).rows.map((r) => r.event_id as string);
    expect(stored.length).toBe(1500);
    expect(new Set(stored)).toEqual(ids);
    for (const z of zones) {
      expect(await seqs(z)).toEqual(Array.from({ length: 500 }, (_, k) => k + 1));
      expect(await verified(z)).toMatchObject({ ok: true, checked: 500 });
    }
    const [a, b] = [await appends(), await appends(second)];
    // Both services appended (the group shares the stream between them).
    expect(a.one_statement + a.two_step).toBeGreaterThan(0);
    expect(b.one_statement + b.two_step).toBeGreaterThan(0);
    await h.stop(second);
  });
});
