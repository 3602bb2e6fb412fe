// Verifies one zone's chain straight from the database (R-AUD-3): its retention anchor, every row in sequence
// order in short keyset pages (no long transaction, no statement near its timeout), then the signed heads: the one
// published in Redis and the highest one recorded in Postgres.
import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withZone, type Pool } from '@caracal/db';
import type { StreamKeys } from '@caracal/streams';
import { headSignatureValid, readHead, type ChainHead } from './chain-head.js';
import { readHeadMark } from './head-marks.js';
import { isoSql } from './columns.js';
import { ChainVerifier, type ChainAnchor, type StoredRow, type ZoneReport } from './verify-chain.js';

export interface VerifyDeps {
  pool: Pool;
  redis: Redis;
  keys: StreamKeys;
  key: KeyObject;
}

const PAGE = 5000;
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

// The hashed text as stored (`data_canonical`, which every reader serves); rows from before that column existed are
// re-serialised from `data`. The receipt time as the content hash covers it (hash version 2).
const COLUMNS = `event_id, zone_id, chain_seq, ${isoSql('occurred_at')} AS occurred_at, ${isoSql('recorded_at')} AS recorded_at, source, event_type,
  decision, reason, request_id, application_id, resource, subject, data_canonical, CASE WHEN data_canonical IS NULL THEN data END AS data,
  hash_version, content_sha256, prev_content_sha256, chain_hmac`;

/**
 * Rows with chain_seq in (from, to], in order. A window of sequence numbers (not LIMIT over an open range) keeps
 * every page an index range of bounded size whatever the planner believes about the table, and lets duplicates of
 * one sequence come back together.
 */
async function page(pool: Pool, zoneId: string, from: bigint, to: bigint): Promise<StoredRow[]> {
  const res = await withZone(pool, zoneId, (c) =>
    c.query(`SELECT ${COLUMNS} FROM audit_events WHERE zone_id = $1 AND chain_seq > $2 AND chain_seq <= $3 ORDER BY chain_seq, recorded_at`, [zoneId, String(from), String(to)]),
  );
  return res.rows.map(toStored);
}

/**
 * The lowest sequence above `after` (skips a gap however wide), or null past the end. Sequences are bigint here:
 * a forged row near 2^63 must be reported, not break the arithmetic of the walk.
 */
async function nextSeq(pool: Pool, zoneId: string, after: bigint): Promise<bigint | null> {
  const res = await withZone(pool, zoneId, (c) => c.query<{ s: string | null }>('SELECT min(chain_seq) AS s FROM audit_events WHERE zone_id = $1 AND chain_seq > $2', [zoneId, String(after)]));
  const s = res.rows[0]?.s;
  return s === null || s === undefined ? null : BigInt(s);
}

/** True when there is no anchor, or a validly signed anchor mark names exactly it (retention dropped only what it signed). */
export function anchorVouched(key: KeyObject, anchor: ChainAnchor | null, anchorMark: ChainHead | null): boolean {
  if (!anchor) return true;
  return !!anchorMark && headSignatureValid(key, anchorMark, 'anchor') && anchorMark.seq === anchor.through_seq && anchorMark.content_sha256 === anchor.content_sha256;
}

const toStored = (r: Record<string, unknown>): StoredRow => ({ ...(r as unknown as StoredRow), chain_seq: Number(r.chain_seq) });

export async function verifyZone(deps: VerifyDeps, zoneId: string): Promise<ZoneReport> {
  // The recorded mark first, then the Redis head, then the rows: each is recorded only after the one read after it
  // (the mark after its head was published, the head after its rows committed), so a sound ledger never seems behind.
  const mark = await readHeadMark(deps.pool, zoneId);
  const head = await readHead(deps.redis, deps.keys, zoneId);
  const anchor = await readAnchor(deps.pool, zoneId);
  const anchorMark = anchor ? await readHead(deps.redis, deps.keys, zoneId, 'anchor') : null;
  const verifier = new ChainVerifier(zoneId, deps.key, anchor, head, head ? headSignatureValid(deps.key, head) : true, anchorVouched(deps.key, anchor, anchorMark), mark);
  const windowAt = async (after: bigint) => {
    const first = await nextSeq(deps.pool, zoneId, after);
    if (first === null) return null;
    const to = first - 1n + BigInt(PAGE);
    return { from: first - 1n, rows: await page(deps.pool, zoneId, first - 1n, to > MAX_SEQ ? MAX_SEQ : to) };
  };
  let next: Promise<{ from: bigint; rows: StoredRow[] } | null> = windowAt(0n);
  for (let w = await next; w; w = await next) {
    // The next window is already being read while this one is hashed.
    const after = w.from + BigInt(PAGE);
    next = after >= MAX_SEQ ? Promise.resolve(null) : windowAt(after);
    for (const row of w.rows) verifier.push(row);
  }
  return verifier.finish();
}
