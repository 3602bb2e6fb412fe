// Verifies one zone's chain straight from the database (R-AUD-3): its retention anchor, every row in sequence
// order in short keyset pages (no long transaction, no statement near its timeout), then the published head.
import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withZone, type Pool } from '@caracal/db';
import type { StreamKeys } from '@caracal/streams';
import { headSignatureValid, readHead } from './chain-head.js';
import { ROW_COLUMNS, toLedgerRow } from './columns.js';
import { ChainVerifier, type ChainAnchor, type ZoneReport } from './verify-chain.js';

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

export async function verifyZone(deps: VerifyDeps, zoneId: string): Promise<ZoneReport> {
  // The head is read first: rows committed after this moment only extend the chain past it.
  const head = await readHead(deps.redis, deps.keys, zoneId);
  const anchor = await readAnchor(deps.pool, zoneId);
  const verifier = new ChainVerifier(zoneId, deps.key, anchor, head, head ? headSignatureValid(deps.key, head) : true);
  let after: [number, string] = [-1, '00000000-0000-0000-0000-000000000000'];
  for (;;) {
    const res = await withZone(deps.pool, zoneId, (c) =>
      c.query(
        `SELECT ${ROW_COLUMNS} FROM audit_events
          WHERE zone_id = $1 AND (chain_seq, event_id) > ($2, $3::uuid)
          ORDER BY chain_seq, event_id LIMIT ${PAGE}`,
        [zoneId, after[0], after[1]],
      ),
    );
    for (const raw of res.rows) verifier.push(toLedgerRow(raw));
    const last = res.rows.at(-1);
    if (!last || res.rows.length < PAGE) break;
    after = [Number(last.chain_seq), last.event_id as string];
  }
  return verifier.finish();
}
