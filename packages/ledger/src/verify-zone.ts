// Verifies one zone's chain straight from the database (R-AUD-3): its retention anchor, every row in sequence
// order in short windows of the primary key (no long transaction, no statement near its timeout), each streamed as a
// binary COPY and checked from its bytes, then the signed heads: the one published in Redis and the highest one
// recorded in Postgres.
import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withZone, type Pool, type PoolClient } from '@caracal/db';
import type { StreamKeys } from '@caracal/streams';
import { headSignatureValid, readHead, type ChainHead } from './chain-head.js';
import { readHeadMark } from './head-marks.js';
import { CHAIN_WALK, copyChain, type CheckedRow } from './row-bytes.js';
import { ChainVerifier, type ChainAnchor, type ZoneReport } from './verify-chain.js';

export interface VerifyDeps {
  pool: Pool;
  redis: Redis;
  keys: StreamKeys;
  key: KeyObject;
  /** Sequences per window (one transaction, one COPY); WINDOW by default. */
  windowSeqs?: number;
}

/**
 * A window of 20,000 sequences streams in about a tenth of a second here, far from the pool's 10 s statement
 * timeout. Fewer windows mean fewer pauses of the reader for the round trips around each COPY (transaction, zone
 * binding, the next sequence): verifying the same settled zones again and again, 20,000 gave about a tenth more rows/s
 * than 5,000.
 */
export const WINDOW = 20_000;
const MAX_SEQ = 2n ** 63n - 1n;

export async function readAnchor(pool: Pool, zoneId: string): Promise<ChainAnchor | null> {
  const res = await withZone(pool, zoneId, (c) =>
    c.query<{ through_seq: string; content_sha256: string }>(
      'SELECT through_seq, content_sha256 FROM audit_chain_anchors WHERE zone_id = $1 ORDER BY through_seq DESC LIMIT 1',
      [zoneId],
    ),
  );
  const a = res.rows[0];
  return a ? { through_seq: Number(a.through_seq), content_sha256: a.content_sha256 } : null;
}

/**
 * Checks the rows with chain_seq in (from, to], in order, as they stream in, and returns the lowest sequence above
 * `to` (null past the end), in the same transaction. A window of sequence numbers (not LIMIT over an open range) keeps
 * every read one bounded range of the primary key, and lets duplicates of one sequence come back together.
 */
function checkWindow(pool: Pool, key: KeyObject, zoneId: string, from: bigint, to: bigint, onRow: CheckedRow): Promise<bigint | null> {
  return withZone(pool, zoneId, async (c) => {
    await c.query(CHAIN_WALK);
    await copyChain(c, key, { after: from, through: to }, onRow);
    return to >= MAX_SEQ ? null : nextSeq(c, zoneId, to);
  });
}

/**
 * The lowest sequence above `after` (skips a gap however wide), or null past the end. Sequences are bigint here:
 * a forged row near 2^63 must be reported, not break the arithmetic of the walk.
 */
async function nextSeq(c: PoolClient, zoneId: string, after: bigint): Promise<bigint | null> {
  const res = await c.query<{ s: string | null }>('SELECT min(chain_seq) AS s FROM audit_events WHERE zone_id = $1 AND chain_seq > $2', [zoneId, String(after)]);
  const s = res.rows[0]?.s;
  return s === null || s === undefined ? null : BigInt(s);
}

/** True when there is no anchor, or a validly signed anchor mark names exactly it (retention dropped only what it signed). */
export function anchorVouched(key: KeyObject, anchor: ChainAnchor | null, anchorMark: ChainHead | null): boolean {
  if (!anchor) return true;
  return !!anchorMark && headSignatureValid(key, anchorMark, 'anchor') && anchorMark.seq === anchor.through_seq && anchorMark.content_sha256 === anchor.content_sha256;
}

export async function verifyZone(deps: VerifyDeps, zoneId: string): Promise<ZoneReport> {
  // The recorded mark first, then the Redis head, then the rows: each is recorded only after the one read after it
  // (the mark after its head was published, the head after its rows committed), so a sound ledger never seems behind.
  const mark = await readHeadMark(deps.pool, zoneId);
  const head = await readHead(deps.redis, deps.keys, zoneId);
  const anchor = await readAnchor(deps.pool, zoneId);
  const anchorMark = anchor ? await readHead(deps.redis, deps.keys, zoneId, 'anchor') : null;
  const verifier = new ChainVerifier(zoneId, deps.key, anchor, head, head ? headSignatureValid(deps.key, head) : true, anchorVouched(deps.key, anchor, anchorMark), mark);
  const onRow: CheckedRow = (seq, content, prev, contentOk, hmacOk) => verifier.pushChecked(seq, content, prev, contentOk, hmacOk);
  const seqs = deps.windowSeqs ?? WINDOW;
  // A window must move the walk forward: an empty one would find the same first sequence again and again.
  if (!Number.isSafeInteger(seqs) || seqs < 1) throw new RangeError(`windowSeqs must be a positive integer, got ${seqs}`);
  const window = BigInt(seqs);
  // From sequence 1; each window finds where the next one starts, past a gap however wide (a zone whose first row
  // lies beyond the first window, after retention, reads one empty window first).
  for (let first: bigint | null = 1n; first !== null; ) {
    const to = first - 1n + window;
    first = await checkWindow(deps.pool, deps.key, zoneId, first - 1n, to > MAX_SEQ ? MAX_SEQ : to, onRow);
  }
  return verifier.finish();
}
