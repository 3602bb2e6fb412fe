// A zone's chain read as bytes (R-AUD-3): a binary COPY of its rows in chain order, each row's content hash and
// chain_hmac recomputed from the streamed bytes, no row objects. `verifyZone` reads its windows this way, and the
// evidence pack's audit-chains check reads whole zones with the same statement and the same checks.
import type { KeyObject } from 'node:crypto';
import { int8At, TimestampText, uuidText, writeUuid } from './binary-fields.js';
import { copyTuples, type CopyClient, type Tuple } from './copy-tuples.js';
import { ChainHmac, sha256Hex } from './hmac-bytes.js';
import { rowContentSha256, type StoredRow } from './verify-chain.js';

// Column order: the content hash's own field order sits at 2..14 so a row hashes from one copy loop; the last
// column is the jsonb text only for rows from before data_canonical (migration 0009). The columns go out in their
// binary form (int8, int2, uuid, timestamptz, text bytes): their text is rendered here (binary-fields.ts), not by the
// server. The ORDER BY names the table's columns.
const ROW_FIELDS = `chain_seq, hash_version, event_id, zone_id, occurred_at, source, event_type, decision, reason, request_id,
  application_id, resource, subject, data_canonical, recorded_at, content_sha256, prev_content_sha256, chain_hmac,
  CASE WHEN data_canonical IS NULL THEN data::text END`;

/** A window of sequences: the rows with after < chain_seq <= through. */
export interface SeqRange {
  after: bigint;
  through: bigint;
}

/**
 * The rows of the zone bound in `caracal.zone_id` (for RLS too), in chain order, all of them or those of `range`
 * (written into the text as integers: COPY takes no parameters).
 */
export const chainSelect = (range?: SeqRange) =>
  `SELECT ${ROW_FIELDS}
  FROM caracal.audit_events WHERE zone_id = current_setting('caracal.zone_id')::uuid${range ? ` AND chain_seq > ${BigInt(range.after)} AND chain_seq <= ${BigInt(range.through)}` : ''} ORDER BY audit_events.chain_seq, audit_events.recorded_at`;

/**
 * Run in the reading transaction before the COPY: the primary key (zone_id, chain_seq, recorded_at) walked in order on each
 * monthly partition, merged. Planner statistics describe the sequences of every zone of a partition together, so a
 * range can look like a large part of it; left alone the planner reads all of the zone's rows through another index
 * (or the whole partition) and sorts them, with parallel workers and JIT on top: work in proportion to the zone for
 * every range, and about twice the server time for a whole 1M-row ledger.
 */
export const CHAIN_WALK =
  'SET LOCAL enable_sort = off; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0';

const FIELDS = 19;
const F = { seq: 0, version: 1, first: 2, eventId: 2, zoneId: 3, occurred: 4, data: 13, recorded: 14, content: 15, prev: 16, hmac: 17, legacyData: 18 } as const;
const SEP = 0x1f;
const SHORT = 96;
/** Room for any field the hasher renders itself: a UUID (36 bytes) or a timestamp (at most 25). */
const RENDERED = 40;

const text = (t: Tuple, f: number): string | null => (t.lens[f]! < 0 ? null : t.buf.toString('utf8', t.starts[f], t.starts[f]! + t.lens[f]!));
const uuid = (t: Tuple, f: number): string => (t.lens[f] === 16 ? uuidText(t.buf, t.starts[f]!) : '');
const time = (t: Tuple, f: number, render = new TimestampText()): string | null => (t.lens[f] === 8 ? render.text(t.buf, t.starts[f]!) : null);
/** The hash version the row names (int2), or -1 for anything else. */
const version = (t: Tuple): number => (t.lens[F.version] === 2 ? t.buf.readInt16BE(t.starts[F.version]!) : -1);

/** The row as the ledger's generic code takes it: for rows the byte path does not cover. */
export function storedRow(t: Tuple): StoredRow {
  const legacy = text(t, F.legacyData);
  return {
    chain_seq: t.lens[F.seq] === 8 ? int8At(t.buf, t.starts[F.seq]!) : Number.NaN,
    hash_version: version(t),
    event_id: uuid(t, F.eventId),
    zone_id: uuid(t, F.zoneId),
    occurred_at: time(t, F.occurred) ?? '',
    source: text(t, 5) ?? '',
    event_type: text(t, 6) ?? '',
    decision: text(t, 7),
    reason: text(t, 8),
    request_id: text(t, 9),
    application_id: text(t, 10),
    resource: text(t, 11),
    subject: text(t, 12),
    data_canonical: text(t, F.data),
    data: legacy === null ? undefined : (JSON.parse(legacy) as unknown),
    recorded_at: time(t, F.recorded) ?? '',
    content_sha256: text(t, F.content) ?? '',
    prev_content_sha256: text(t, F.prev) ?? '',
    chain_hmac: text(t, F.hmac) ?? '',
  };
}

/**
 * The row's content hash straight from the COPY bytes: the fields in their fixed order, each followed by 0x1F,
 * NULL as empty (exactly what rowContentSha256 hashes), the UUIDs and times rendered as text on the way. Versions 1
 * and 2 with data_canonical only; anything else goes through the ledger's generic code.
 */
export class ContentHasher {
  private scratch = Buffer.alloc(4096);
  private readonly occurred = new TimestampText();
  private readonly recorded = new TimestampText();

  hash(t: Tuple): string {
    const v = version(t);
    const { buf, starts, lens } = t;
    if ((v !== 1 && v !== 2) || lens[F.data]! < 0 || lens[F.eventId] !== 16 || lens[F.zoneId] !== 16 || lens[F.occurred] !== 8 || (v === 2 && lens[F.recorded] !== 8)) {
      return rowContentSha256(storedRow(t));
    }
    const last = v === 2 ? F.recorded : F.data;
    let need = 0;
    for (let f = F.first; f <= last; f++) need += Math.max(RENDERED, lens[f]!) + 1;
    if (need > this.scratch.length) this.scratch = Buffer.alloc(need * 2);
    const out = this.scratch;
    let pos = writeUuid(out, 0, buf, starts[F.eventId]!);
    out[pos++] = SEP;
    pos = writeUuid(out, pos, buf, starts[F.zoneId]!);
    out[pos++] = SEP;
    pos = this.occurred.write(out, pos, buf, starts[F.occurred]!);
    out[pos++] = SEP;
    for (let f = F.occurred + 1; f <= F.data; f++) {
      const n = lens[f]!;
      // Short fields byte by byte: a Buffer#copy call costs more than copying a few dozen bytes.
      if (n > SHORT) pos += buf.copy(out, pos, starts[f], starts[f]! + n);
      else for (let i = starts[f]!, end = i + n; i < end; i++) out[pos++] = buf[i]!;
      out[pos++] = SEP;
    }
    if (v === 2) {
      pos = this.recorded.write(out, pos, buf, starts[F.recorded]!);
      out[pos++] = SEP;
    }
    return sha256Hex(out.subarray(0, pos));
  }
}

/** One row as read and checked: what `ChainVerifier.pushChecked` takes. */
export type CheckedRow = (seq: number, contentSha256: string, prevContentSha256: string, contentOk: boolean, hmacOk: boolean) => void;

/** Checks each tuple of `chainSelect` as it is handed over: its content hash and chain_hmac, then `onRow`. */
export function chainRowChecker(key: KeyObject, onRow: CheckedRow): (t: Tuple) => void {
  const hasher = new ContentHasher();
  const hmac = new ChainHmac(key);
  return (t) => {
    const { buf, starts, lens } = t;
    const content = text(t, F.content) ?? '';
    const prev = text(t, F.prev) ?? '';
    const seq = lens[F.seq] === 8 ? int8At(buf, starts[F.seq]!) : Number.NaN;
    const hmacOk = hmac.matches(buf, starts[F.content]!, lens[F.content]!, starts[F.prev]!, lens[F.prev]!, starts[F.hmac]!, lens[F.hmac]!, content, prev, () => text(t, F.hmac));
    onRow(seq, content, prev, hasher.hash(t) === content, hmacOk);
  };
}

/**
 * Streams `chainSelect(range)` through `client` (in a transaction already bound to the zone, CHAIN_WALK run) and
 * hands every row to `onRow` with its content hash and chain_hmac checked.
 */
export function copyChain(client: CopyClient, key: KeyObject, range: SeqRange | undefined, onRow: CheckedRow): Promise<void> {
  return copyTuples(client, chainSelect(range), FIELDS, chainRowChecker(key, onRow));
}
