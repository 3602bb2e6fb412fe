// Flags of `caracal audit …`, checked locally so a bad value is a usage error (exit 2) naming the flag: times,
// ranges, page cursors and DLQ entry ids.
import { InvalidArgumentError } from 'commander';
import { matching } from '../../admin/flags.js';
import { UsageError } from '../../errors.js';

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i;

/**
 * An ISO 8601 instant: a date-time with a time zone (`2025-03-01T10:00:00Z`, `…+02:00`) or a date alone, meaning
 * midnight UTC. Returned in the one form the API and file names use. JavaScript's own parser rolls `02-30` over
 * to March, so every part is range-checked here first.
 */
export function isoTime(flag: string) {
  return (v: string): string => {
    const m = DATE_TIME.exec(v);
    const fail = () => new InvalidArgumentError(`${flag} must be an ISO 8601 date (2025-03-01, midnight UTC) or date-time with a time zone (2025-03-01T10:00:00Z)`);
    if (!m) throw fail();
    const [, y, mo, d, h = '0', mi = '0', s = '0', zone] = m;
    const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
    if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw fail();
    const t = Date.parse(zone === undefined ? `${v}T00:00:00Z` : v);
    if (!Number.isFinite(t) || t < Date.UTC(2000, 0, 1) || t >= Date.UTC(10000, 0, 1)) throw fail();
    return new Date(t).toISOString();
  };
}

export function checkRange(from: string | undefined, to: string | undefined): void {
  if (from !== undefined && to !== undefined && Date.parse(from) >= Date.parse(to)) throw new UsageError(`--from (${from}) must be before --to (${to})`);
}

export const adminAction = matching('--action', /^[A-Za-z0-9._:-]{1,128}$/, '1-128 characters of A-Z a-z 0-9 . _ : -');
export const auditType = matching('--type', /^[A-Za-z0-9._:-]{1,128}$/, '1-128 characters of A-Z a-z 0-9 . _ : -');
export const requestId = matching('--request-id', /^[^\u0000-\u001f\u007f]{1,1024}$/u, '1-1024 characters without control characters');
export const cursor = matching('--cursor', /^[A-Za-z0-9_-]{1,256}$/, 'a cursor printed by the previous page');
export const streamId = matching('--id', /^\d{1,20}-\d{1,20}$/, 'a DLQ entry id such as 1741000000000-0');
