// Appends a batch of one zone's events to its chain (R-AUD-2), inside the caller's zone-bound transaction:
// per-zone advisory lock, idempotency on event id, then one multi-row INSERT continuing the chain. The canonical
// JSON is stored beside the jsonb copy so verification hashes exactly the text that was hashed here.
import type { KeyObject } from 'node:crypto';
import { chainHmac, GENESIS, sha256Fields, type PoolClient } from '@caracal/db';
import { contentFields, type LedgerEvent } from './event.js';

/**
 * What became of each input event, by position: appended to the chain; a duplicate (its id is already in the
 * ledger with the same content: a redelivery, acknowledged without a new row); or a conflict (its id is already in
 * the ledger, or earlier in the batch, with different content: an alert and a DLQ entry).
 */
export type AppendStatus = 'appended' | 'duplicate' | 'conflict';

export interface AppendResult {
  status: AppendStatus[];
  /** Events now in the chain, with their sequence. */
  appended: Array<{ event_id: string; seq: number; content_sha256: string }>;
  head: { seq: number; content_sha256: string } | null;
}

export function contentSha256(e: LedgerEvent): string {
  return sha256Fields(contentFields(e));
}

/**
 * The table no longer reaches the published head (R-AUD-3): its newest rows were deleted or rewritten. Appending
 * would re-sign a new tail over the gap and, once the head moved on, hide the deletion, so the zone is not extended.
 */
export class ChainBehindHead extends Error {
  constructor(
    readonly zoneId: string,
    readonly tipSeq: number,
    readonly headSeq: number,
  ) {
    super(
      tipSeq < 0
        ? `zone ${zoneId}: the published chain head is not signed with the audit key`
        : `zone ${zoneId}: the ledger ends at sequence ${tipSeq} but its published head is at ${headSeq}`,
    );
  }
}

/** The published head the table must still reach; from Redis, signature already checked. */
export interface ExpectedHead {
  seq: number;
  content_sha256: string;
}

export async function appendZoneBatch(
  client: PoolClient,
  key: KeyObject,
  zoneId: string,
  events: readonly LedgerEvent[],
  recordedAt: Date,
  expected: ExpectedHead | null = null,
): Promise<AppendResult> {
  const result: AppendResult = { status: [], appended: [], head: null };
  const hashed = events.map((e) => ({ e, content: contentSha256(e) }));
  // Lock, chain tip and already-stored ids in one round trip (migration 0009).
  const prep = await client.query<{ kind: 'tip' | 'known'; event_id: string | null; chain_seq: string; content_sha256: string }>(
    'SELECT kind, event_id, chain_seq, content_sha256 FROM caracal.audit_append_prepare($1, $2::uuid[])',
    [zoneId, hashed.map((h) => h.e.event_id)],
  );
  const known = new Map(prep.rows.filter((r) => r.kind === 'known').map((r) => [r.event_id!, r.content_sha256]));
  const tip = prep.rows.find((r) => r.kind === 'tip');
  const tipSeq = tip ? Number(tip.chain_seq) : 0;
  // Under the lock: the head was read before it, so a healthy table always reaches at least that far.
  if (expected && (tipSeq < expected.seq || (tipSeq === expected.seq && tip?.content_sha256 !== expected.content_sha256))) {
    throw new ChainBehindHead(zoneId, tipSeq, expected.seq);
  }
  const fresh: typeof hashed = [];
  for (const h of hashed) {
    const prior = known.get(h.e.event_id);
    if (prior === undefined) {
      known.set(h.e.event_id, h.content);
      fresh.push(h);
    }
    result.status.push(prior === undefined ? 'appended' : prior === h.content ? 'duplicate' : 'conflict');
  }
  if (fresh.length === 0) return result;

  let seq = tipSeq;
  let prev = tip?.content_sha256 ?? GENESIS;
  const at = recordedAt.toISOString();
  const rows = fresh.map(({ e, content }) => {
    seq++;
    const row = { ...e, chain_seq: seq, recorded_at: at, content_sha256: content, prev_content_sha256: prev, chain_hmac: chainHmac(key, content, prev) };
    result.appended.push({ event_id: e.event_id, seq, content_sha256: content });
    prev = content;
    return row;
  });
  // One JSON parameter for the whole batch: serialising it natively costs far less than escaping 17 array literals.
  // recorded_at never goes back within a zone (clocks of replicas differ): hourly export and retention rely on it.
  await client.query(
    `INSERT INTO audit_events (event_id, zone_id, chain_seq, recorded_at, occurred_at, source, event_type, decision, reason, request_id,
                               application_id, resource, subject, data, data_canonical, content_sha256, prev_content_sha256, chain_hmac)
     SELECT event_id, zone_id, chain_seq,
            GREATEST(recorded_at, (SELECT max(a.recorded_at) FROM audit_events a WHERE a.zone_id = $2 AND a.chain_seq = $3)),
            occurred_at, source, event_type, decision, reason, request_id,
            application_id, resource, subject, data::jsonb, data, content_sha256, prev_content_sha256, chain_hmac
       FROM json_to_recordset($1::json) AS u(event_id uuid, zone_id uuid, chain_seq bigint, recorded_at timestamptz, occurred_at timestamptz,
            source text, event_type text, decision text, reason text, request_id text, application_id text, resource text, subject text,
            data text, content_sha256 text, prev_content_sha256 text, chain_hmac text)`,
    [JSON.stringify(rows), zoneId, String(tipSeq)],
  );
  result.head = { seq, content_sha256: prev };
  return result;
}
