// The chain check (R-AUD-3) on rows built in memory: each break kind is named with its sequence, a published head
// catches truncation, a forged head is refused, and a chain resumes correctly after a retention anchor.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainHmac, chainKey, GENESIS } from '../../../db/src/index.js';
import { canonicalEvent, ChainVerifier, contentSha256, signHead, type ChainAnchor, type ChainHead, type StoredRow } from '../../src/index.js';

const key = chainKey('ab'.repeat(32));
const zone = randomUUID();

const recordedAt = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 1, i)).toISOString();

/** Rows hashed as today (version 2, covering recorded_at), or as before migration 0012 (version 1). */
function chain(n: number, from: ChainAnchor | null = null, version: 1 | 2 = 2): StoredRow[] {
  let prev = from?.content_sha256 ?? GENESIS;
  return Array.from({ length: n }, (_, i) => {
    const r = canonicalEvent({ id: randomUUID(), zone_id: zone, source: 's', type: 't', occurred_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), data: { i } });
    if (!r.ok) throw new Error(r.detail);
    const content = contentSha256(r.event, version === 2 ? recordedAt(i) : undefined);
    const seq = (from?.through_seq ?? 0) + i + 1;
    const row: StoredRow = { ...r.event, data_canonical: r.event.data, chain_seq: seq, recorded_at: recordedAt(i), hash_version: version, content_sha256: content, prev_content_sha256: prev, chain_hmac: chainHmac(key, content, prev) };
    prev = content;
    return row;
  });
}

const head = (rows: StoredRow[], seq = rows.length): ChainHead =>
  signHead(key, { zone_id: zone, seq: rows[seq - 1]?.chain_seq ?? seq, content_sha256: rows[seq - 1]?.content_sha256 ?? 'f'.repeat(64), published_at: '2026-01-01T00:00:00.000Z' });

function run(rows: StoredRow[], h: ChainHead | null = null, anchor: ChainAnchor | null = null, headValid = true, mark: ChainHead | null = null) {
  const v = new ChainVerifier(zone, key, anchor, h, headValid, true, mark);
  for (const r of rows) v.push(r);
  const report = v.finish();
  return { report, breaks: report.breaks.map((b) => [b.seq, b.kind]) };
}

describe('ChainVerifier', () => {
  it('accepts an intact chain and its head', () => {
    const rows = chain(5);
    expect(run(rows, head(rows)).report).toMatchObject({ ok: true, checked: 5, first_seq: 1, last_seq: 5, breaks: [], warnings: [] });
  });

  it('warns, without failing, when no head was ever published', () => {
    expect(run(chain(3)).report.warnings[0]).toContain('no published chain head');
  });

  it('names each kind of break with its sequence', () => {
    const rows = chain(6);
    expect(run(rows.map((r) => (r.chain_seq === 2 ? { ...r, reason: 'x' } : r))).breaks).toEqual([[2, 'content_mismatch']]);
    expect(run(rows.map((r) => (r.chain_seq === 2 ? { ...r, data_canonical: r.data_canonical!.replace('"i":1', '"i":7') } : r))).breaks).toEqual([[2, 'content_mismatch']]);
    expect(run(rows.map((r) => (r.chain_seq === 2 ? { ...r, chain_hmac: 'a'.repeat(64) } : r))).breaks).toEqual([[2, 'hmac_mismatch']]);
    expect(run(rows.filter((r) => r.chain_seq !== 3)).breaks).toEqual([[3, 'sequence_gap'], [4, 'chain_break']]);
    expect(run([...rows.slice(0, 3), { ...rows[3]!, chain_seq: 3 }, ...rows.slice(4)]).breaks).toEqual([[3, 'sequence_duplicate'], [4, 'sequence_gap']]);
    expect(run(rows.slice(1)).breaks).toEqual([[1, 'sequence_gap'], [2, 'chain_break']]);
  });

  it('catches the newest rows deleted, and a rewritten tip, against the published head', () => {
    const rows = chain(6);
    expect(run(rows.slice(0, 4), head(rows)).breaks).toEqual([[5, 'truncated']]);
    expect(run([], head(rows)).breaks).toEqual([[1, 'truncated']]);
    const forgedTip = chain(6);
    expect(run([...rows.slice(0, 5), { ...forgedTip[5]!, prev_content_sha256: rows[4]!.content_sha256, chain_hmac: chainHmac(key, forgedTip[5]!.content_sha256, rows[4]!.content_sha256) }], head(rows)).breaks).toEqual([[6, 'head_mismatch']]);
  });

  it('refuses a head that is not signed with the audit key', () => {
    const rows = chain(3);
    expect(run(rows, { ...head(rows), seq: 2 }, null, false).breaks).toEqual([[2, 'head_signature_invalid']]);
  });

  it('starts after a retention anchor, and still sees rows missing right after it', () => {
    const anchor: ChainAnchor = { through_seq: 10, content_sha256: 'c'.repeat(64) };
    const rows = chain(4, anchor);
    expect(run(rows, head(rows), anchor).report).toMatchObject({ ok: true, first_seq: 11, last_seq: 14 });
    expect(run(rows.slice(1), head(rows), anchor).breaks).toEqual([[11, 'sequence_gap'], [12, 'chain_break']]);
    expect(run(rows, null, null).breaks).toEqual([[1, 'sequence_gap'], [11, 'chain_break']]);
  });

  it('caps the reported breaks and counts the rest', () => {
    const rows = chain(150).map((r) => ({ ...r, chain_hmac: '0'.repeat(64) }));
    const { report } = run(rows);
    expect(report.breaks).toHaveLength(100);
    expect(report.breaks_omitted).toBe(50);
  });

  it('covers recorded_at from hash version 2; version 1 rows verify as they were hashed; a version flip is a mismatch', () => {
    const rows = chain(4);
    expect(run(rows.map((r) => (r.chain_seq === 2 ? { ...r, recorded_at: '2030-01-01T00:00:00.000Z' } : r))).breaks).toEqual([[2, 'content_mismatch']]);
    expect(run(rows.map((r) => (r.chain_seq === 3 ? { ...r, hash_version: 1 } : r))).breaks).toEqual([[3, 'content_mismatch']]);
    expect(run(rows.map((r) => (r.chain_seq === 3 ? { ...r, hash_version: 3 } : r))).breaks).toEqual([[3, 'content_mismatch']]);
    const old = chain(4, null, 1);
    expect(run(old).breaks).toEqual([]);
    expect(run(old.map(({ hash_version: _, ...r }) => r)).breaks).toEqual([]);
    // Rows as served carry no version: each still verifies by the list it was hashed with, and recorded_at stays covered.
    const served = rows.map(({ hash_version: _, ...r }) => r);
    expect(run(served).breaks).toEqual([]);
    expect(run(served.map((r) => (r.chain_seq === 2 ? { ...r, recorded_at: '2030-01-01T00:00:00.000Z' } : r))).breaks).toEqual([[2, 'content_mismatch']]);
  });

  it('fails, not warns, when the head is missing but one was recorded; flags a head older than the recorded one', () => {
    const rows = chain(6);
    expect(run(rows, null, null, true, head(rows)).breaks).toEqual([[6, 'head_missing']]);
    expect(run(rows.slice(0, 4), null, null, true, head(rows)).breaks).toEqual([[6, 'head_missing'], [5, 'truncated']]);
    expect(run(rows, head(rows, 4), null, true, head(rows)).breaks).toEqual([[4, 'head_rolled_back']]);
    expect(run(rows.slice(0, 4), head(rows, 4), null, true, head(rows)).breaks).toEqual([[4, 'head_rolled_back'], [5, 'truncated']]);
    // A head that moved on past the recorded one is the normal case (the record follows the publish).
    expect(run(rows, head(rows), null, true, head(rows, 4)).report).toMatchObject({ ok: true, warnings: [] });
    expect(run(rows, head(rows), null, true, { ...head(rows, 5), sig: 'a'.repeat(64) }).breaks).toEqual([[5, 'head_signature_invalid']]);
  });
});
