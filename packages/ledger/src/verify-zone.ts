// Verifies one zone's chain straight from the database (R-AUD-3): its retention anchor, every row in sequence
// order in short keyset pages (no long transaction, no statement near its timeout), then the published head.
import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withZone, type Pool } from '@caracal/db';
import type { StreamKeys } from '@caracal/streams';
import { headSignatureValid, readHead } from './chain-head.js';
import { canonicalJson } from './canonical-json.js';
import { isoSql } from './columns.js';
import { ChainVerifier, type ChainAnchor, type StoredRow, type ZoneReport } from './verify-chain.js';

export interface VerifyDeps {
  pool: Pool;
  redis: Redis;
  keys: StreamKeys;
  key: KeyObject;
}

const PAGE = 5000;

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

// The hashed text as stored, and the database's check that the jsonb copy still equals it (cast and compare run on
// the database's core while this process hashes the previous page).
const FAST = `event_id, zone_id, chain_seq, ${isoSql('occurred_at')} AS occurred_at, source, event_type, decision, reason, request_id,
  application_id, resource, subject, data_canonical, CASE WHEN data_canonical IS NULL THEN data END AS data,
  (data_canonical IS NULL OR data = data_canonical::jsonb) AS data_consistent, content_sha256, prev_content_sha256, chain_hmac`;
// When a page's canonical text no longer parses (only a tampered row does that), the page is re-read without the
// cast and the comparison is made here.
const SLOW = `event_id, zone_id, chain_seq, ${isoSql('occurred_at')} AS occurred_at, source, event_type, decision, reason, request_id,
  application_id, resource, subject, data_canonical, data, content_sha256, prev_content_sha256, chain_hmac`;

type Cursor = [number, string];

async function page(pool: Pool, zoneId: string, after: Cursor): Promise<StoredRow[]> {
  const read = (cols: string) =>
    withZone(pool, zoneId, (c) =>
      c.query(`SELECT ${cols} FROM audit_events WHERE zone_id = $1 AND (chain_seq, event_id) > ($2, $3::uuid) ORDER BY chain_seq, event_id LIMIT ${PAGE}`, [zoneId, after[0], after[1]]),
    );
  try {
    return (await read(FAST)).rows.map(toStored);
  } catch (err) {
    if ((err as { code?: string }).code !== '22P02') throw err;
    return (await read(SLOW)).rows.map((r) => ({ ...toStored(r), data_consistent: consistent(r.data_canonical, r.data) }));
  }
}

function consistent(text: string | null, data: unknown): boolean {
  if (text === null) return true;
  try {
    return canonicalJson(JSON.parse(text)) === canonicalJson(data);
  } catch {
    return false;
  }
}

const toStored = (r: Record<string, unknown>): StoredRow => ({ ...(r as unknown as StoredRow), chain_seq: Number(r.chain_seq) });

export async function verifyZone(deps: VerifyDeps, zoneId: string): Promise<ZoneReport> {
  // The head is read first: rows committed after this moment only extend the chain past it.
  const head = await readHead(deps.redis, deps.keys, zoneId);
  const anchor = await readAnchor(deps.pool, zoneId);
  const verifier = new ChainVerifier(zoneId, deps.key, anchor, head, head ? headSignatureValid(deps.key, head) : true);
  let next: Promise<StoredRow[]> | null = page(deps.pool, zoneId, [-1, '00000000-0000-0000-0000-000000000000']);
  while (next) {
    const rows: StoredRow[] = await next;
    const last: StoredRow | undefined = rows.at(-1);
    // The next page is already being read while this one is hashed.
    next = last && rows.length === PAGE ? page(deps.pool, zoneId, [last.chain_seq, last.event_id]) : null;
    for (const row of rows) verifier.push(row);
  }
  return verifier.finish();
}
