// Verification of the admin audit chain (R-AUD-5): every row's content hash recomputed, its link to the row
// before, its HMAC under the audit key, and an unbroken sequence from 1. Every break is named by seq and kind.
import type { KeyObject } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { chainHmac, GENESIS } from '../chain.js';
import type { PoolClient } from '../pool.js';
import { adminContentSha256 } from './append.js';
import { readAdminAudit, type AdminAuditRow } from './rows.js';

export type AdminBreakKind = 'content_mismatch' | 'detail_mismatch' | 'hmac_mismatch' | 'chain_break' | 'sequence_gap';

export interface AdminChainBreak {
  seq: number;
  kind: AdminBreakKind;
  detail: string;
}

export interface AdminChainReport {
  ok: boolean;
  checked: number;
  first_seq: number | null;
  last_seq: number | null;
  last_content_sha256: string | null;
  breaks: AdminChainBreak[];
  /** Breaks beyond the reported ones (the list is capped). */
  breaks_omitted: number;
}

const MAX_BREAKS = 100;
const BATCH = 1000;

/** The breaks of one row given the previous row's seq and content hash. */
export function checkAdminRow(row: AdminAuditRow, prevSeq: number, prevContent: string, key: KeyObject): AdminChainBreak[] {
  const found: AdminChainBreak[] = [];
  const add = (kind: AdminBreakKind, detail: string) => found.push({ seq: row.seq, kind, detail });
  if (row.seq !== prevSeq + 1) add('sequence_gap', `expected seq ${prevSeq + 1}, found ${row.seq}`);
  const detailText = row.detail_text ?? JSON.stringify(row.detail ?? {});
  // The jsonb copy is what SQL readers see: it must say what the hashed text says.
  if (row.detail_text !== null && !isDeepStrictEqual(JSON.parse(row.detail_text) as unknown, row.detail)) add('detail_mismatch', 'detail differs from the hashed detail_text');
  const event = { actor: row.actor, action: row.action, zoneId: row.zone_id, target: row.target, requestId: row.request_id };
  const content = adminContentSha256(row.seq, row.occurred_at, event, detailText);
  if (content !== row.content_sha256) add('content_mismatch', 'the row does not hash to its content_sha256');
  if (row.prev_content_sha256 !== prevContent) add('chain_break', `prev_content_sha256 does not match row ${prevSeq}`);
  if (chainHmac(key, row.content_sha256, row.prev_content_sha256) !== row.chain_hmac) add('hmac_mismatch', 'chain_hmac does not verify under the audit key');
  return found;
}

/** Reads the whole chain in seq order (in batches) and reports every break; run it in one snapshot. */
export async function verifyAdminChain(c: PoolClient, key: KeyObject): Promise<AdminChainReport> {
  const report: AdminChainReport = { ok: true, checked: 0, first_seq: null, last_seq: null, last_content_sha256: null, breaks: [], breaks_omitted: 0 };
  let prevSeq = 0;
  let prevContent = GENESIS;
  for (;;) {
    const { rows, more } = await readAdminAudit(c, prevSeq, BATCH);
    for (const row of rows) {
      for (const b of checkAdminRow(row, prevSeq, prevContent, key)) {
        report.ok = false;
        if (report.breaks.length < MAX_BREAKS) report.breaks.push(b);
        else report.breaks_omitted++;
      }
      report.first_seq ??= row.seq;
      report.checked++;
      prevSeq = row.seq;
      prevContent = row.content_sha256;
    }
    if (!more) break;
  }
  report.last_seq = report.checked > 0 ? prevSeq : null;
  report.last_content_sha256 = report.checked > 0 ? prevContent : null;
  return report;
}
