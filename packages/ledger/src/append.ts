// Appends a batch of one zone's events to its chain (R-AUD-2), inside the caller's zone-bound transaction:
// per-zone advisory lock, idempotency on event id, then one multi-row INSERT continuing the chain. The canonical
// JSON is stored beside the jsonb copy so verification hashes exactly the text that was hashed here. The receipt
// time is decided here, under the lock, so the content hash can cover it (hash version 2, migration 0012).
import type { KeyObject } from 'node:crypto';
import { chainHmac, GENESIS, sha256Fields, type Pool, type PoolClient } from '@caracal/db';
import type { ChainHead } from './chain-head.js';
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
  /** The chain's new tip; null when nothing was appended. */
  head: ChainTip | null;
}

/** The event's content hash: version 2 (covering `recordedAt`) when given the receipt time, else version 1. */
export function contentSha256(e: LedgerEvent, recordedAt?: string): string {
  return sha256Fields(contentFields(e, e.data, recordedAt));
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

  const chained = chainRows(key, fresh, { seq: tipSeq, content_sha256: tip?.content_sha256 ?? GENESIS, recorded_at: tip?.recorded_at ?? null }, recordedAt);
  result.appended = chained.appended;
  // One JSON parameter for the whole batch: serialising it natively costs far less than escaping 18 array literals.
  await client.query(
    `INSERT INTO audit_events (event_id, zone_id, chain_seq, recorded_at, occurred_at, source, event_type, decision, reason, request_id,
                               application_id, resource, subject, data, data_canonical, hash_version, content_sha256, prev_content_sha256, chain_hmac)
     SELECT event_id, zone_id, chain_seq, recorded_at, occurred_at, source, event_type, decision, reason, request_id,
            application_id, resource, subject, data::jsonb, data, hash_version, content_sha256, prev_content_sha256, chain_hmac
       FROM json_to_recordset($1::json) AS u(event_id uuid, zone_id uuid, chain_seq bigint, recorded_at timestamptz, occurred_at timestamptz,
            source text, event_type text, decision text, reason text, request_id text, application_id text, resource text, subject text,
            data text, hash_version smallint, content_sha256 text, prev_content_sha256 text, chain_hmac text)`,
    [chained.json],
  );
  result.head = chained.head;
  return result;
}

/** Where a zone's chain ends: the last row's sequence, content hash and receipt time (null before any row). */
export interface ChainTip {
  seq: number;
  content_sha256: string;
  recorded_at: string | null;
}

/** Chains `events` onto `tip`: their rows as one JSON text, what was appended, and the new tip. */
function chainRows(key: KeyObject, events: readonly LedgerEvent[], tip: ChainTip, recordedAt: Date) {
  let seq = tip.seq;
  let prev = tip.content_sha256;
  // recorded_at never goes back within a zone (clocks of replicas differ): hourly export and retention rely on it.
  const at = new Date(Math.max(recordedAt.getTime(), tip.recorded_at ? Date.parse(tip.recorded_at) : 0)).toISOString();
  const appended: AppendResult['appended'] = [];
  const rows = events.map((e) => {
    seq++;
    const content = contentSha256(e, at);
    // Object.assign: V8 builds `{ ...e, chain_seq, … }` many times slower, once per event.
    const row = Object.assign({}, e, { chain_seq: seq, recorded_at: at, hash_version: HASH_VERSION, content_sha256: content, prev_content_sha256: prev, chain_hmac: chainHmac(key, content, prev) });
    appended.push({ event_id: e.event_id, seq, content_sha256: content });
    prev = content;
    return row;
  });
  return { json: JSON.stringify(rows), appended, head: { seq, content_sha256: prev, recorded_at: at } };
}

/** One zone's part of a one-statement append: its new events, the tip they continue, and a head to record. */
export interface TipBatch {
  zoneId: string;
  events: readonly LedgerEvent[];
  tip: ChainTip;
  /** A head of this zone already published to Redis, recorded as a mark in the same statement. */
  mark: ChainHead | null;
}

/**
 * Up to this many zones, each zone's rows (one JSON text) are a parameter of their own, gathered into the function's
 * json[] by the statement (ARRAY[$7::json, …]): pg would otherwise write them as one array literal, every quote of
 * every row escaped by a regular expression (about 8.7 µs of the audit process per event under live traffic), and
 * the server would parse the escapes back. One prepared statement per count; a larger group passes one json[].
 */
const ROWS_AS_PARAMS = 16;

/**
 * The one-statement append (migration 0024: 0022's, each zone's ids looked up on their own) for a caller that holds
 * the tip its own last append left in each zone: each zone's events, all new and distinct, are chained onto its tip
 * here and inserted only if the zone's table still ends exactly there, reaches every recorded head and holds none of
 * their ids. Marks are recorded whatever happens to the rows. Returns each zone's result, or null for a zone that got
 * nothing: the caller then takes appendZoneBatch for it.
 */
export async function appendFromTips(pool: Pool, key: KeyObject, batches: readonly TipBatch[], recordedAt: Date): Promise<Map<string, AppendResult | null>> {
  const chained = batches.map((b) => chainRows(key, b.events, b.tip, recordedAt));
  const separate = batches.length <= ROWS_AS_PARAMS;
  const rows = separate ? `ARRAY[${chained.map((_, i) => `$${i + 7}::json`).join(', ')}]::json[]` : '$7::json[]';
  const res = await pool.query<{ zone: string; appended: number }>({
    name: separate ? `caracal_audit_append_zones_${batches.length}` : 'caracal_audit_append_zones_array',
    text: `SELECT zone, appended FROM caracal.audit_append_zones($1::uuid[], $2::bigint[], $3::text[], $4::integer[], $5::uuid[], ${rows}, $6::json[])`,
    values: [
      batches.map((b) => b.zoneId),
      batches.map((b) => String(b.tip.seq)),
      batches.map((b) => b.tip.content_sha256),
      batches.map((b) => b.events.length),
      batches.flatMap((b) => b.events.map((e) => e.event_id)),
      batches.map((b) => b.mark && JSON.stringify({ seq: b.mark.seq, content_sha256: b.mark.content_sha256, published_at: b.mark.published_at, sig: b.mark.sig })),
      ...(separate ? chained.map((c) => c.json) : [chained.map((c) => c.json)]),
    ],
  });
  const appended = new Map(res.rows.map((r) => [r.zone, r.appended]));
  return new Map(
    batches.map((b, i) => [
      b.zoneId,
      appended.get(b.zoneId) === b.events.length ? { status: b.events.map(() => 'appended' as const), appended: chained[i]!.appended, head: chained[i]!.head } : null,
    ]),
  );
}
