// `caracal audit search`: one page of a zone's ledger, filtered by time, decision, request id and type (R-AUD-4).
// The next page's cursor goes to stderr, so stdout stays the table (or the API's JSON).
import type { LedgerRow } from '@caracal/ledger';
import { adminApi, apiPath, type AdminApi } from '../../admin/client.js';
import { col, printList, printable, type Field } from '../../admin/render.js';
import type { Io } from '../io.js';
import { checkRange } from './audit-flags.js';

export interface EventPage {
  items: LedgerRow[];
  next_cursor: string | null;
}

export interface SearchFilter {
  from?: string;
  to?: string;
  decision?: 'allow' | 'deny';
  requestId?: string;
  type?: string;
}

export interface SearchOptions extends SearchFilter {
  zone: string;
  limit?: number;
  cursor?: string;
  json?: boolean;
}

const FIELDS: ReadonlyArray<Field<LedgerRow>> = [
  ['seq', (r) => r.chain_seq],
  col('occurred_at'),
  col('source'),
  ['type', (r) => r.event_type],
  col('decision'),
  col('reason'),
  col('request_id'),
  col('event_id'),
];

/** One page of the events endpoint; export pages through it with the same filter. */
export function fetchEventPage(api: AdminApi, zone: string, f: SearchFilter, limit: number | undefined, cursor: string | undefined): Promise<EventPage> {
  const q = new URLSearchParams();
  const add = (k: string, v: string | number | undefined) => v !== undefined && q.set(k, String(v));
  add('from', f.from);
  add('to', f.to);
  add('decision', f.decision);
  add('request_id', f.requestId);
  add('type', f.type);
  add('limit', limit);
  add('cursor', cursor);
  const query = q.size > 0 ? `?${q.toString()}` : '';
  return api.call<EventPage>('GET', `${apiPath`/v1/zones/${zone}/audit/events`}${query}`);
}

export function runAuditSearch(opts: SearchOptions, io: Io): Promise<EventPage> {
  checkRange(opts.from, opts.to);
  return fetchEventPage(adminApi(io), opts.zone, opts, opts.limit, opts.cursor);
}

/** A page as a table (or the API's JSON); the next page's cursor on stderr. */
export function printPage<T>(io: Io, json: boolean | undefined, page: { items: T[]; next_cursor: string | null }, fields: ReadonlyArray<Field<T>>): void {
  printList(io, json, page, fields);
  if (page.next_cursor) io.out.info(`more rows: --cursor ${printable(page.next_cursor)}`);
}

export const printEventPage = (page: EventPage, io: Io, json: boolean | undefined): void => printPage(io, json, page, FIELDS);
