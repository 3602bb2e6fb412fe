// The audit DLQ (R-AUD-4, R-STR-4): listing dead-lettered messages without their signatures, and replaying them
// onto the audit stream. Each replay is one Lua script, so an entry is either moved whole or left where it was.
import type { Redis } from 'ioredis';
import type { DlqItem } from '@caracal/ledger';
import { STREAMS, toFields, type StreamKeys } from '@caracal/streams';

export interface ReplayResult {
  replayed: string[];
  skipped: Array<{ id: string; reason: string }>;
}

/** Longest event id, zone id or type shown from unverified data; anything longer is not what a producer sends. */
const SHOWN_MAX = 128;
const PAGE = 500;

/** What a DLQ entry shows: its `_dlq_*` fields and, when `data` is a JSON object, who it was about. Never `sig`. */
export function toDlqItem(id: string, f: Record<string, string>): DlqItem {
  let event: Record<string, unknown> = {};
  if (f.data !== undefined) {
    try {
      const parsed: unknown = JSON.parse(f.data);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) event = parsed as Record<string, unknown>;
    } catch {
      // Not JSON: the entry is listed with its reason, without event details.
    }
  }
  const shown = (v: unknown) => (typeof v === 'string' && v.length <= SHOWN_MAX ? v : null);
  const deliveries = f._dlq_deliveries !== undefined && /^\d{1,9}$/.test(f._dlq_deliveries) ? Number(f._dlq_deliveries) : null;
  return {
    id,
    reason: f._dlq_reason ?? null,
    detail: f._dlq_detail ?? null,
    source_id: f._dlq_source_id ?? null,
    deliveries,
    dead_lettered_at: f._dlq_at ?? null,
    event_id: shown(event.id),
    zone_id: shown(event.zone_id),
    type: shown(event.type),
    data_bytes: f.data === undefined ? null : Buffer.byteLength(f.data, 'utf8'),
  };
}

/** Entries after `after` (exclusive), oldest first, plus the id to continue from when more follow. */
export async function listDlq(redis: Redis, keys: StreamKeys, after: string | null, limit: number): Promise<{ items: DlqItem[]; next: string | null }> {
  const entries = await redis.xrange(keys.key(STREAMS.auditDlq), after ? `(${after}` : '-', '+', 'COUNT', limit + 1);
  const items = entries.slice(0, limit).map(([id, flat]) => toDlqItem(id, toFields(flat)));
  return { items, next: entries.length > limit ? items.at(-1)!.id : null };
}

// KEYS[1] = DLQ, KEYS[2] = audit stream; ARGV[1] = entry id. Only `data` and `sig` go back, untrimmed (evidence):
// the `_dlq_*` fields describe the failure, not the event. A message without either can only fail again.
const REPLAY = `
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return {0, 'not_found'} end
local f = found[1][2]
local data, sig
for i = 1, #f, 2 do
  if f[i] == 'data' then data = f[i + 1] elseif f[i] == 'sig' then sig = f[i + 1] end
end
if not data then return {0, 'missing_data'} end
if not sig then return {0, 'missing_sig'} end
redis.call('XADD', KEYS[2], '*', 'data', data, 'sig', sig)
redis.call('XDEL', KEYS[1], ARGV[1])
return {1, 'replayed'}`;

async function replayOne(redis: Redis, keys: StreamKeys, id: string, out: ReplayResult): Promise<void> {
  const [moved, reason] = (await redis.eval(REPLAY, 2, keys.key(STREAMS.auditDlq), keys.key(STREAMS.auditEvents), id)) as [number, string];
  if (moved === 1) out.replayed.push(id);
  else out.skipped.push({ id, reason });
}

export async function replayIds(redis: Redis, keys: StreamKeys, ids: readonly string[]): Promise<ReplayResult> {
  const out: ReplayResult = { replayed: [], skipped: [] };
  for (const id of ids) await replayOne(redis, keys, id, out);
  return out;
}

/**
 * Replays every entry present when the call starts. Entries dead-lettered meanwhile (a replayed message that
 * fails again) lie beyond that bound, so one call always ends.
 */
export async function replayAll(redis: Redis, keys: StreamKeys): Promise<ReplayResult> {
  const dlq = keys.key(STREAMS.auditDlq);
  const out: ReplayResult = { replayed: [], skipped: [] };
  const last = (await redis.xrevrange(dlq, '+', '-', 'COUNT', 1))[0]?.[0];
  if (last === undefined) return out;
  let start = '-';
  for (;;) {
    const page = await redis.xrange(dlq, start, last, 'COUNT', PAGE);
    for (const [id] of page) await replayOne(redis, keys, id, out);
    if (page.length < PAGE) return out;
    start = `(${page.at(-1)![0]}`;
  }
}
