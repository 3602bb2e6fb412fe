// `caracal audit dlq list|replay`: what the audit service dead-lettered and why, and putting entries back on the
// audit stream (R-AUD-4). The API never returns signatures; a replay is audited there (R-AUD-5).
import type { DlqItem } from '@caracal/ledger';
import { adminApi } from '../../admin/client.js';
import { col, printList, printable, type Field } from '../../admin/render.js';
import { UsageError } from '../../errors.js';
import type { Io } from '../io.js';
import { LONG_CALL_MS } from './audit-verify.js';

export interface DlqPage {
  items: DlqItem[];
  next_cursor: string | null;
}

export interface ReplayResult {
  replayed: string[];
  skipped: Array<{ id: string; reason: string }>;
}

export const MAX_REPLAY_IDS = 500;

const FIELDS: ReadonlyArray<Field<DlqItem>> = [
  col('id'),
  col('dead_lettered_at'),
  col('reason'),
  col('deliveries'),
  col('zone_id'),
  col('type'),
  col('event_id'),
  col('detail'),
];

export function runDlqList(opts: { limit?: number; cursor?: string }, io: Io): Promise<DlqPage> {
  const q = new URLSearchParams();
  if (opts.limit !== undefined) q.set('limit', String(opts.limit));
  if (opts.cursor !== undefined) q.set('cursor', opts.cursor);
  return adminApi(io).call<DlqPage>('GET', `/v1/audit/dlq${q.size > 0 ? `?${q.toString()}` : ''}`);
}

export function printDlqPage(page: DlqPage, io: Io, json: boolean | undefined): void {
  printList(io, json, page, FIELDS);
  if (page.next_cursor) io.out.info(`more entries: --cursor ${printable(page.next_cursor)}`);
}

export function runDlqReplay(opts: { id?: string[]; all?: boolean }, io: Io): Promise<ReplayResult> {
  const ids = opts.id ?? [];
  if ((ids.length > 0) === Boolean(opts.all)) throw new UsageError('give exactly one of --id (repeatable) or --all');
  if (ids.length > MAX_REPLAY_IDS) throw new UsageError(`--id may be given at most ${MAX_REPLAY_IDS} times; use --all for more`);
  if (new Set(ids).size !== ids.length) throw new UsageError('--id lists an entry twice');
  // --all moves every entry of the DLQ in one call, which can take a while on a large one.
  return adminApi(io).call<ReplayResult>('POST', '/v1/audit/dlq/replay', opts.all ? { all: true } : { ids }, { timeoutMs: LONG_CALL_MS });
}

/** Replayed ids on stdout; skipped entries too, with why. The caller turns any skip into exit code 1. */
export function printReplay(r: ReplayResult, io: Io, json: boolean | undefined): void {
  if (json) io.out.json(r);
  else {
    const lines = [...r.replayed.map((id) => `replayed ${id}`), ...r.skipped.map((s) => `skipped ${s.id}: ${printable(s.reason)}`)];
    if (lines.length > 0) io.out.data(lines.join('\n'));
  }
  io.out.info(`replayed ${r.replayed.length}, skipped ${r.skipped.length}`);
}
