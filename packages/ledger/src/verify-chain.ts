// The chain check itself (R-AUD-3), pure and incremental: rows are pushed in sequence order and every break is
// named with its zone, sequence and kind. The same code serves the audit service's sweep and `caracal audit verify`.
import type { KeyObject } from 'node:crypto';
import { chainHmac, GENESIS, sha256Fields } from '@caracal/db';
import { canonicalJson } from './canonical-json.js';
import { contentFields, type LedgerEvent } from './event.js';
import { headSignatureValid, type ChainHead } from './chain-head.js';

export type BreakKind =
  | 'content_mismatch'
  | 'hmac_mismatch'
  | 'chain_break'
  | 'sequence_gap'
  | 'sequence_duplicate'
  | 'truncated'
  | 'head_mismatch'
  | 'head_missing'
  | 'head_rolled_back'
  | 'head_signature_invalid'
  | 'anchor_unsigned';

export interface ChainBreak {
  zone_id: string;
  seq: number;
  kind: BreakKind;
  detail: string;
}

/**
 * A stored row as read back: the event columns and the canonical JSON as hashed (`data_canonical`), or for rows
 * older than that column the parsed `data`; the receipt time and which field list the content hash covers.
 */
export interface StoredRow extends Omit<LedgerEvent, 'data'> {
  chain_seq: number;
  /** Millisecond ISO 8601 UTC; covered by the content hash from hash version 2. */
  recorded_at?: string;
  /** Which field list the content hash covers (migration 0012); absent on rows as served to readers. */
  hash_version?: number;
  data?: unknown;
  data_canonical?: string | null;
  content_sha256: string;
  prev_content_sha256: string;
  chain_hmac: string;
}

/** Where a zone's chain starts: genesis, or the last row of a partition dropped by retention. */
export interface ChainAnchor {
  through_seq: number;
  content_sha256: string;
}

export interface ZoneReport {
  zone_id: string;
  ok: boolean;
  checked: number;
  first_seq: number | null;
  last_seq: number | null;
  last_content_sha256: string | null;
  anchor: ChainAnchor | null;
  published_head: { seq: number; content_sha256: string; published_at: string } | null;
  /** The highest head ever recorded in Postgres for the zone (migration 0012). */
  recorded_head: { seq: number; content_sha256: string; published_at: string } | null;
  breaks: ChainBreak[];
  /** Breaks beyond the reported ones (the list is capped). */
  breaks_omitted: number;
  warnings: string[];
}

export const MAX_REPORTED_BREAKS = 100;

/**
 * The row's content hash by its own hash version; an unknown version hashes to nothing any row holds. Rows as
 * served (search, exports) carry no version: the list whose hash the row holds is the one it was made from. That
 * is no weaker: the two lists never hash the same text (12 fields against 13, and no field can hold 0x1F), and the
 * stored hash itself is bound by chain_hmac.
 */
export function rowContentSha256(row: StoredRow): string {
  const data = row.data_canonical ?? canonicalJson(row.data);
  const v2 = () => sha256Fields(contentFields(row, data, row.recorded_at ?? ''));
  const v1 = () => sha256Fields(contentFields(row, data));
  switch (row.hash_version) {
    case 1:
      return v1();
    case 2:
      return v2();
    case undefined: {
      const h = v1();
      return h === row.content_sha256 ? h : v2();
    }
    default:
      return '';
  }
}

const brief = (h: ChainHead | null) => (h ? { seq: h.seq, content_sha256: h.content_sha256, published_at: h.published_at } : null);

export class ChainVerifier {
  private prevSeq: number;
  private prevContent: string;
  private readonly report: ZoneReport;
  private readonly seen = new Map<number, string>();
  private readonly markValid: boolean;
  private readonly headValid: boolean;

  constructor(
    private readonly zoneId: string,
    private readonly key: KeyObject,
    anchor: ChainAnchor | null,
    private readonly head: ChainHead | null,
    headValid: boolean,
    /** False when the database holds an anchor that no valid signed anchor mark vouches for. */
    anchorVouched = true,
    /** The highest head recorded in Postgres: the Redis head may never be behind it, nor missing. */
    private readonly mark: ChainHead | null = null,
  ) {
    this.headValid = !!head && headValid;
    this.prevSeq = anchor?.through_seq ?? 0;
    this.prevContent = anchor?.content_sha256 ?? GENESIS;
    this.report = {
      zone_id: zoneId,
      ok: true,
      checked: 0,
      first_seq: null,
      last_seq: null,
      last_content_sha256: null,
      anchor,
      published_head: brief(head),
      recorded_head: brief(mark),
      breaks: [],
      breaks_omitted: 0,
      warnings: [],
    };
    if (head && !headValid) this.flag(head.seq, 'head_signature_invalid', 'the published chain head is not signed with the audit key');
    this.markValid = !!mark && headSignatureValid(key, mark);
    if (mark && !this.markValid) this.flag(mark.seq, 'head_signature_invalid', 'the recorded chain head is not signed with the audit key');
    if (anchor && !anchorVouched) this.flag(anchor.through_seq + 1, 'anchor_unsigned', 'the retention anchor the chain starts from is not the one the audit service signed');
  }

  push(row: StoredRow): void {
    const contentOk = rowContentSha256(row) === row.content_sha256;
    const hmacOk = chainHmac(this.key, row.content_sha256, row.prev_content_sha256) === row.chain_hmac;
    this.pushChecked(row.chain_seq, row.content_sha256, row.prev_content_sha256, contentOk, hmacOk);
  }

  /**
   * The same checks for a reader that hashed the row its own way (the evidence pack hashes the bytes it streams):
   * the row's sequence and stored hashes, and whether its content and chain_hmac verified.
   */
  pushChecked(seq: number, contentSha256: string, prevContentSha256: string, contentOk: boolean, hmacOk: boolean): void {
    const r = this.report;
    r.checked++;
    r.first_seq ??= seq;
    if (seq === this.prevSeq) this.flag(seq, 'sequence_duplicate', `two rows hold sequence ${seq}`);
    else if (seq !== this.prevSeq + 1) {
      const missing = seq - this.prevSeq - 1;
      this.flag(this.prevSeq + 1, 'sequence_gap', missing > 0 ? `${missing} row(s) missing before sequence ${seq}` : `sequence ${seq} out of order after ${this.prevSeq}`);
    }
    if (!contentOk) this.flag(seq, 'content_mismatch', 'the row no longer hashes to its content_sha256');
    if (!hmacOk) this.flag(seq, 'hmac_mismatch', 'chain_hmac does not match content_sha256 and prev_content_sha256 under the audit key');
    if (prevContentSha256 !== this.prevContent) {
      this.flag(seq, 'chain_break', seq === this.prevSeq + 1 || this.report.checked === 1 ? 'prev_content_sha256 is not the previous row’s content_sha256' : 'the row does not link to the row before it');
    }
    if (seq === this.head?.seq || seq === this.mark?.seq) this.seen.set(seq, contentSha256);
    this.prevSeq = Math.max(this.prevSeq, seq);
    this.prevContent = contentSha256;
    r.last_seq = seq;
    r.last_content_sha256 = contentSha256;
  }

  /**
   * Compares the end of the table with the signed heads: deleting the newest rows is caught here, and so is a
   * Redis head deleted or rolled back below the highest head ever recorded.
   */
  finish(): ZoneReport {
    const head = this.headValid ? this.head : null;
    const mark = this.markValid ? this.mark : null;
    const last = this.report.last_seq ?? this.prevSeq;
    if (mark && !this.head) this.flag(mark.seq, 'head_missing', `a chain head was published at sequence ${mark.seq} but none is published now`);
    else if (mark && head && (head.seq < mark.seq || (head.seq === mark.seq && head.content_sha256 !== mark.content_sha256))) {
      this.flag(head.seq, 'head_rolled_back', `the published head is at sequence ${head.seq} but head ${mark.seq} was published before it`);
    }
    const floor = [head, mark].reduce<ChainHead | null>((a, b) => (b && (!a || b.seq > a.seq) ? b : a), null);
    if (floor && floor.seq > last) this.flag(last + 1, 'truncated', `a chain head was published at sequence ${floor.seq} but the ledger ends at ${last}`);
    else {
      const heads = new Map([head, mark].flatMap((h) => (h ? [[`${h.seq}:${h.content_sha256}`, h] as const] : [])));
      for (const h of heads.values()) {
        const at = this.seen.get(h.seq);
        if (at !== undefined && at !== h.content_sha256) this.flag(h.seq, 'head_mismatch', 'the row at a published head differs from the published content_sha256');
      }
    }
    if (!this.head && !this.mark && this.report.checked > 0) this.report.warnings.push('no published chain head: truncation of the newest rows cannot be ruled out');
    return this.report;
  }

  private flag(seq: number, kind: BreakKind, detail: string): void {
    this.report.ok = false;
    if (this.report.breaks.length < MAX_REPORTED_BREAKS) this.report.breaks.push({ zone_id: this.zoneId, seq, kind, detail });
    else this.report.breaks_omitted++;
  }
}
