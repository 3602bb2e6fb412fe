// The ledger's columns as every reader selects them: times rendered exactly as the content hash saw them.
import type { LedgerEvent } from './event.js';

/** Millisecond ISO 8601 in UTC, the form `Date.toISOString()` gives and the content hash uses. */
export const isoSql = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * `data` is served from `data_canonical`, the text the content hash covers, so what readers get is what verification
 * checked; the jsonb column is a copy for ad-hoc SQL (rows from before migration 0009 have only the jsonb).
 */
export const ROW_COLUMNS = `event_id, zone_id, chain_seq, ${isoSql('occurred_at')} AS occurred_at, ${isoSql('recorded_at')} AS recorded_at,
  source, event_type, decision, reason, request_id, application_id, resource, subject, COALESCE(data_canonical::json, data::json) AS data,
  content_sha256, prev_content_sha256, chain_hmac`;

/** A row as the search API and exports return it: the event's columns, its place in the chain, `data` parsed. */
export interface LedgerRow extends Omit<LedgerEvent, 'data'> {
  chain_seq: number;
  recorded_at: string;
  data: unknown;
  content_sha256: string;
  prev_content_sha256: string;
  chain_hmac: string;
}

/** pg returns bigint as text; sequences stay far below 2^53. */
export function toLedgerRow(r: Record<string, unknown>): LedgerRow {
  return { ...(r as unknown as LedgerRow), chain_seq: Number(r.chain_seq) };
}
