// Ledger search (R-AUD-4): one zone's rows filtered by time, decision, request id and type, in chain order, paged
// by keyset on (chain_seq, event_id) so a page never shifts when new rows are appended.
import type { PoolClient } from '@caracal/db';
import { ROW_COLUMNS, toLedgerRow, type LedgerRow } from '@caracal/ledger';

export interface EventFilter {
  /** Inclusive lower bound on occurred_at. */
  from: Date | null;
  /** Exclusive upper bound on occurred_at. */
  to: Date | null;
  decision: 'allow' | 'deny' | null;
  requestId: string | null;
  type: string | null;
}

/** The last row of a page. event_id breaks ties: a tampered chain can hold one sequence twice. */
export interface EventPosition {
  seq: number;
  eventId: string;
}

export const START: EventPosition = { seq: 0, eventId: '00000000-0000-0000-0000-000000000000' };

/** Reads up to `limit` rows after `after`, plus whether more follow. Runs inside the zone's transaction (RLS). */
export async function searchEvents(c: PoolClient, zoneId: string, f: EventFilter, after: EventPosition, limit: number): Promise<{ rows: LedgerRow[]; more: boolean }> {
  // `chain_seq >= $2` on its own lets the primary key index bound the scan; the OR settles ties on the same seq.
  // The page is chosen on narrow keys first and only its rows are rendered, so a large zone never has every
  // remaining row rendered (times, JSON) just to be sorted and cut to one page.
  const res = await c.query(
    `WITH page AS (
       SELECT chain_seq, recorded_at, event_id FROM audit_events
        WHERE zone_id = $1
          AND chain_seq >= $2 AND (chain_seq > $2 OR event_id > $3::uuid)
          AND ($4::timestamptz IS NULL OR occurred_at >= $4)
          AND ($5::timestamptz IS NULL OR occurred_at < $5)
          AND ($6::text IS NULL OR decision = $6)
          AND ($7::text IS NULL OR request_id = $7)
          AND ($8::text IS NULL OR event_type = $8)
        ORDER BY chain_seq, event_id
        LIMIT $9)
     SELECT ${ROW_COLUMNS} FROM audit_events JOIN page USING (chain_seq, recorded_at, event_id)
      WHERE zone_id = $1
      ORDER BY chain_seq, event_id`,
    [zoneId, after.seq, after.eventId, f.from?.toISOString() ?? null, f.to?.toISOString() ?? null, f.decision, f.requestId, f.type, limit + 1],
  );
  const rows = res.rows.slice(0, limit).map(toLedgerRow);
  return { rows, more: res.rows.length > limit };
}
