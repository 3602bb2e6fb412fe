// Appends a batch of one zone's events to its chain (R-AUD-2), inside the caller's zone-bound transaction:
// per-zone advisory lock, idempotency on event id, then one multi-row INSERT continuing the chain. The canonical
// JSON is stored beside the jsonb copy so verification hashes exactly the text that was hashed here. The receipt
// time is decided here, under the lock, so the content hash can cover it (hash version 2, migration 0012).
import type { KeyObject } from 'node:crypto';
import { chainHmac, GENESIS, sha256Fields, type PoolClient } from '@caracal/db';
import { contentFields, HASH_VERSION, type LedgerEvent } from './event.js';

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

/** The event's content hash: version 2 (covering `recordedAt`) when given the receipt time, else version 1. */
export function contentSha256(e: LedgerEvent, recordedAt?: string): string {
  return sha256Fields(contentFields(e, recordedAt));
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

/** A published head the table must still reach; from Redis, signature already checked. */
export interface ExpectedHead {
  seq: number;
  content_sha256: string;
}

interface Prepared {
  kind: 'tip' | 'mark' | 'known';
  event_id: string | null;
  chain_seq: string;
  content_sha256: string;
  /** Millisecond ISO 8601 UTC, as the content hash covers it; null for a retention anchor or a mark. */
  recorded_at: string | null;
  hash_version: number | null;
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
  // Lock, chain tip, highest recorded head and already-stored ids in one round trip (migration 0012).
  const prep = await client.query<Prepared>('SELECT kind, event_id, chain_seq, content_sha256, recorded_at, hash_version FROM caracal.audit_append_begin($1, $2::uuid[])', [
    zoneId,
    events.map((e) => e.event_id),
  ]);
  const tip = prep.rows.find((r) => r.kind === 'tip');
  const tipSeq = tip ? Number(tip.chain_seq) : 0;
  // Under the lock: both heads were published after their rows committed, so a healthy table reaches them.
  const mark = prep.rows.find((r) => r.kind === 'mark');
  for (const h of [expected, mark && { seq: Number(mark.chain_seq), content_sha256: mark.content_sha256 }]) {
    if (h && (tipSeq < h.seq || (tipSeq === h.seq && tip?.content_sha256 !== h.content_sha256))) throw new ChainBehindHead(zoneId, tipSeq, h.seq);
  }
  // A stored event matches a redelivery when the redelivery hashes, by the stored row's version, to its hash.
  const known = new Map<string, (e: LedgerEvent) => boolean>();
  for (const r of prep.rows) {
    if (r.kind === 'known') known.set(r.event_id!, (e) => contentSha256(e, r.hash_version === 2 ? r.recorded_at! : undefined) === r.content_sha256);
  }
  const fresh: LedgerEvent[] = [];
  for (const e of events) {
    const matches = known.get(e.event_id);
    if (matches === undefined) {
      known.set(e.event_id, (other) => contentSha256(other) === contentSha256(e));
      fresh.push(e);
    }
    result.status.push(matches === undefined ? 'appended' : matches(e) ? 'duplicate' : 'conflict');
  }
  if (fresh.length === 0) return result;

  let seq = tipSeq;
  let prev = tip?.content_sha256 ?? GENESIS;
  // recorded_at never goes back within a zone (clocks of replicas differ): hourly export and retention rely on it.
  const at = new Date(Math.max(recordedAt.getTime(), tip?.recorded_at ? Date.parse(tip.recorded_at) : 0)).toISOString();
  const rows = fresh.map((e) => {
    seq++;
    const content = contentSha256(e, at);
    const row = { ...e, chain_seq: seq, recorded_at: at, hash_version: HASH_VERSION, content_sha256: content, prev_content_sha256: prev, chain_hmac: chainHmac(key, content, prev) };
    result.appended.push({ event_id: e.event_id, seq, content_sha256: content });
    prev = content;
    return row;
  });
  // One JSON parameter for the whole batch: serialising it natively costs far less than escaping 18 array literals.
  await client.query(
    `INSERT INTO audit_events (event_id, zone_id, chain_seq, recorded_at, occurred_at, source, event_type, decision, reason, request_id,
                               application_id, resource, subject, data, data_canonical, hash_version, content_sha256, prev_content_sha256, chain_hmac)
     SELECT event_id, zone_id, chain_seq, recorded_at, occurred_at, source, event_type, decision, reason, request_id,
            application_id, resource, subject, data::jsonb, data, hash_version, content_sha256, prev_content_sha256, chain_hmac
       FROM json_to_recordset($1::json) AS u(event_id uuid, zone_id uuid, chain_seq bigint, recorded_at timestamptz, occurred_at timestamptz,
            source text, event_type text, decision text, reason text, request_id text, application_id text, resource text, subject text,
            data text, hash_version smallint, content_sha256 text, prev_content_sha256 text, chain_hmac text)`,
    [JSON.stringify(rows)],
  );
  result.head = { seq, content_sha256: prev };
  return result;
}
