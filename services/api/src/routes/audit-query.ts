// Reading the audit routes' query values after the schema has fixed their shape: limits, time bounds and the
// opaque page cursors (R-AUD-4). Every refusal is a 400 naming the parameter (§15).
import { InvalidRequest } from '@caracal/service-kit';
import type { EventPosition } from '../repos/audit-events.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;

export function parseLimit(raw: string | undefined, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d{1,7}$/.test(raw) || n < 1 || n > max) throw new InvalidRequest(`limit must be an integer from 1 to ${max}`);
  return n;
}

/** The schema already checked RFC 3339 shape; this catches what Date cannot represent (e.g. a leap second). */
export function parseTime(name: string, raw: string | undefined): Date | null {
  if (raw === undefined) return null;
  const t = Date.parse(raw);
  if (!Number.isFinite(t)) throw new InvalidRequest(`${name} must be an ISO 8601 date-time with a time zone`);
  return new Date(t);
}

export function checkRange(from: Date | null, to: Date | null): void {
  if (from && to && from.getTime() >= to.getTime()) throw new InvalidRequest('from must be before to');
}

const MALFORMED = 'cursor is malformed; pass next_cursor from the previous page unchanged';

/** `e1.<seq>.<event_id>` in base64url: opaque to callers, so its form can change with a new prefix. */
export function encodeEventCursor(p: EventPosition): string {
  return Buffer.from(`e1.${p.seq}.${p.eventId}`, 'utf8').toString('base64url');
}

export function decodeEventCursor(raw: string | undefined): EventPosition | null {
  if (raw === undefined) return null;
  const m = /^e1\.(\d{1,15})\.([0-9a-f-]{36})$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
  // A canonical encoding only: two spellings of one cursor would make the cursor a second, unchecked input.
  if (!m || !UUID.test(m[2]!) || encodeEventCursor({ seq: Number(m[1]), eventId: m[2]! }) !== raw) throw new InvalidRequest(MALFORMED);
  return { seq: Number(m[1]), eventId: m[2]! };
}

/** DLQ pages continue after a stream id; the cursor is that id in base64url. */
export const encodeStreamCursor = (id: string): string => Buffer.from(`s1.${id}`, 'utf8').toString('base64url');

export function decodeStreamCursor(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const decoded = Buffer.from(raw, 'base64url').toString('utf8');
  const id = decoded.startsWith('s1.') ? decoded.slice(3) : '';
  if (!STREAM_ID.test(id) || encodeStreamCursor(id) !== raw) throw new InvalidRequest(MALFORMED);
  return id;
}
