// The admin audit chain from the CLI (R-AUD-5): its verification (part of `caracal audit verify`) and one page
// of `caracal audit search --admin`. The chain spans every zone, so both need a global admin token.
import type { AdminChainReport, AdminAuditRow } from '@caracal/db';
import { adminApi, apiPath, type AdminApi } from '../../admin/client.js';
import { col, printable, type Field } from '../../admin/render.js';
import type { Io } from '../io.js';
import { checkRange } from './audit-flags.js';
import { printPage } from './audit-search.js';

export type AdminRow = Omit<AdminAuditRow, 'detail_text'>;

export interface AdminEventPage {
  items: AdminRow[];
  next_cursor: string | null;
}

export interface AdminSearchOptions {
  from?: string;
  to?: string;
  action?: string;
  zone?: string;
  limit?: number;
  cursor?: string;
}

const LABEL = 'admin chain';

/** Whether the token may read the installation-wide chain: zone-confined tokens may not. */
export async function canReadAdminChain(api: AdminApi): Promise<boolean> {
  return (await api.call<{ scope: string }>('GET', '/v1/whoami')).scope === 'global';
}

export function verifyAdminChain(api: AdminApi, io: Io, timeoutMs: number): Promise<AdminChainReport> {
  return io.out.step(`verifying the ${LABEL}`, () => api.call<AdminChainReport>('GET', '/v1/audit/admin/verify', undefined, { timeoutMs }));
}

/** Human lines: one per break, then the verdict, in the same form as a zone's. */
export function printAdminVerification(r: AdminChainReport, io: Io): void {
  const lines = r.breaks.map((b) => `${LABEL} seq ${b.seq}: ${b.kind}: ${printable(b.detail)}`);
  if (r.breaks_omitted > 0) lines.push(`${LABEL}: … and ${r.breaks_omitted} more break(s)`);
  const verdict = r.ok ? 'OK' : `FAILED (${r.breaks.length + r.breaks_omitted} break(s))`;
  lines.push(`${LABEL}: ${r.checked} rows checked, head seq ${r.last_seq ?? '-'}: ${verdict}`);
  io.out.data(lines.join('\n'));
}

const FIELDS: ReadonlyArray<Field<AdminRow>> = [col('seq'), col('occurred_at'), col('actor'), col('action'), col('zone_id'), col('target'), col('request_id')];

export async function runAdminSearch(opts: AdminSearchOptions, io: Io): Promise<AdminEventPage> {
  checkRange(opts.from, opts.to);
  const api = adminApi(io);
  const q = new URLSearchParams();
  const add = (k: string, v: string | number | undefined) => v !== undefined && q.set(k, String(v));
  add('from', opts.from);
  add('to', opts.to);
  add('action', opts.action);
  // The API filters by zone id; a slug is resolved first, so both spellings work as everywhere else.
  if (opts.zone !== undefined) add('zone_id', (await api.call<{ id: string }>('GET', apiPath`/v1/zones/${opts.zone}`)).id);
  add('limit', opts.limit);
  add('cursor', opts.cursor);
  return api.call<AdminEventPage>('GET', `/v1/audit/admin/events${q.size > 0 ? `?${q.toString()}` : ''}`);
}

export const printAdminEventPage = (page: AdminEventPage, io: Io, json: boolean | undefined): void => printPage(io, json, page, FIELDS);
