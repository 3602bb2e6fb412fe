// The chain check itself (R-AUD-3), pure and incremental: rows are pushed in sequence order and every break is
// named with its zone, sequence and kind. The same code serves the audit service's sweep and `caracal audit verify`.
import type { KeyObject } from 'node:crypto';
import { chainHmac, GENESIS, sha256Fields } from '@caracal/db';
import { canonicalJson } from './canonical-json.js';
import { contentFields, type LedgerEvent } from './event.js';
import type { ChainHead } from './chain-head.js';

export type BreakKind =
  | 'content_mismatch'
  | 'hmac_mismatch'
  | 'chain_break'
  | 'sequence_gap'
  | 'sequence_duplicate'
  | 'truncated'
  | 'head_mismatch'
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
 * older than that column the parsed `data`.
 */
export interface StoredRow extends Omit<LedgerEvent, 'data'> {
  chain_seq: number;
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
  breaks: ChainBreak[];
  /** Breaks beyond the reported ones (the list is capped). */
  breaks_omitted: number;
  warnings: string[];
}

export const MAX_REPORTED_BREAKS = 100;

export function rowContentSha256(row: StoredRow): string {
  return sha256Fields(contentFields({ ...row, data: row.data_canonical ?? canonicalJson(row.data) }));
}

export class ChainVerifier {
  private prevSeq: number;
  private prevContent: string;
  private readonly report: ZoneReport;
  private readonly seen = new Map<number, string>();

  constructor(
    private readonly zoneId: string,
    private readonly key: KeyObject,
    anchor: ChainAnchor | null,
    private readonly head: ChainHead | null,
    headValid: boolean,
    /** False when the database holds an anchor that no valid signed anchor mark vouches for. */
    anchorVouched = true,
  ) {
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
      published_head: head ? { seq: head.seq, content_sha256: head.content_sha256, published_at: head.published_at } : null,
      breaks: [],
      breaks_omitted: 0,
      warnings: [],
    };
    if (head && !headValid) this.flag(head.seq, 'head_signature_invalid', 'the published chain head is not signed with the audit key');
    if (anchor && !anchorVouched) this.flag(anchor.through_seq + 1, 'anchor_unsigned', 'the retention anchor the chain starts from is not the one the audit service signed');
  }

  push(row: StoredRow): void {
    const r = this.report;
    r.checked++;
    r.first_seq ??= row.chain_seq;
    const seq = row.chain_seq;
    if (seq === this.prevSeq) this.flag(seq, 'sequence_duplicate', `two rows hold sequence ${seq}`);
    else if (seq !== this.prevSeq + 1) {
      const missing = seq - this.prevSeq - 1;
      this.flag(this.prevSeq + 1, 'sequence_gap', missing > 0 ? `${missing} row(s) missing before sequence ${seq}` : `sequence ${seq} out of order after ${this.prevSeq}`);
    }
    const content = rowContentSha256(row);
    if (content !== row.content_sha256) this.flag(seq, 'content_mismatch', 'the row no longer hashes to its content_sha256');
    if (chainHmac(this.key, row.content_sha256, row.prev_content_sha256) !== row.chain_hmac) {
      this.flag(seq, 'hmac_mismatch', 'chain_hmac does not match content_sha256 and prev_content_sha256 under the audit key');
    }
    if (row.prev_content_sha256 !== this.prevContent) {
      this.flag(seq, 'chain_break', seq === this.prevSeq + 1 || this.report.checked === 1 ? 'prev_content_sha256 is not the previous row’s content_sha256' : 'the row does not link to the row before it');
    }
    if (this.head && seq === this.head.seq) this.seen.set(seq, row.content_sha256);
    this.prevSeq = Math.max(this.prevSeq, seq);
    this.prevContent = row.content_sha256;
    r.last_seq = seq;
    r.last_content_sha256 = row.content_sha256;
  }

  /** Compares the end of the table with the published head: deleting the newest rows is caught here. */
  finish(): ZoneReport {
    const h = this.head;
    if (h && this.report.breaks.every((b) => b.kind !== 'head_signature_invalid')) {
      const last = this.report.last_seq ?? this.prevSeq;
      if (h.seq > last) this.flag(last + 1, 'truncated', `the published head is at sequence ${h.seq} but the ledger ends at ${last}`);
      else {
        const at = this.seen.get(h.seq);
        if (at !== undefined && at !== h.content_sha256) this.flag(h.seq, 'head_mismatch', 'the row at the published head differs from the published content_sha256');
      }
    }
    if (!h && this.report.checked > 0) this.report.warnings.push('no published chain head: truncation of the newest rows cannot be ruled out');
    return this.report;
  }

  private flag(seq: number, kind: BreakKind, detail: string): void {
    this.report.ok = false;
    if (this.report.breaks.length < MAX_REPORTED_BREAKS) this.report.breaks.push({ zone_id: this.zoneId, seq, kind, detail });
    else this.report.breaks_omitted++;
  }
}
