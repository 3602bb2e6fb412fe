// Validation and canonicalisation of one audit message (R-STR-3, R-AUD-2): signature first, then a strict reading
// of the event. Every refusal carries a stable reason code; the consumer puts the message in the DLQ with it.
import { verifyAuditData } from '@caracal/streams';
import { canonicalJson } from './canonical-json.js';

/** One event as the ledger stores and hashes it. */
export interface LedgerEvent {
  event_id: string;
  zone_id: string;
  occurred_at: string;
  source: string;
  event_type: string;
  decision: string | null;
  reason: string | null;
  request_id: string | null;
  application_id: string | null;
  resource: string | null;
  subject: string | null;
  /** Canonical JSON of the whole event as published: nothing the producer said is dropped. */
  data: string;
}

export type RejectReason = 'missing_data' | 'bad_signature' | 'oversized' | 'invalid_json' | 'missing_zone' | 'invalid_event';

export type ParseResult = { ok: true; event: LedgerEvent } | { ok: false; reason: RejectReason; detail: string };

/** Default cap on the `data` field of one message (bytes). */
export const MAX_EVENT_BYTES = 64 * 1024;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TYPE = /^[A-Za-z0-9._:-]{1,128}$/;
// Columns must be unambiguous when joined with 0x1F, so no control characters at all.
const CONTROL = /[\u0000-\u001f\u007f]/;
const OPTIONAL_TEXT = ['reason', 'request_id', 'application_id', 'resource', 'subject'] as const;
const TEXT_MAX = 1024;

function reject(reason: RejectReason, detail: string): ParseResult {
  return { ok: false, reason, detail };
}

export function parseAuditMessage(fields: Record<string, string | undefined>, hmacKey: string, maxBytes = MAX_EVENT_BYTES): ParseResult {
  const data = fields.data;
  if (data === undefined) return reject('missing_data', 'the message has no data field');
  if (Buffer.byteLength(data, 'utf8') > maxBytes) return reject('oversized', `data is larger than ${maxBytes} bytes`);
  if (typeof fields.sig !== 'string' || !verifyAuditData(fields, hmacKey)) return reject('bad_signature', 'sig is missing or is not the HMAC of data');
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return reject('invalid_json', 'data is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return reject('invalid_json', 'data is not a JSON object');
  // NUL and lone surrogates can only arrive as \u escapes (the text came through UTF-8): without any such escape,
  // and with no deep nesting, the walk over the parsed event can be skipped.
  return canonicalEvent(parsed as Record<string, unknown>, !RISKY_TEXT.test(data) && shallow(data));
}

const RISKY_TEXT = /\\u(?:0000|[dD][89a-fA-F])/;

/** True when brackets never nest deeper than the limit (brackets inside strings only make this stricter). */
function shallow(text: string, limit = 32): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 123 || c === 91) {
      if (++depth > limit) return false;
    } else if (c === 125 || c === 93) depth--;
  }
  return true;
}

export function canonicalEvent(e: Record<string, unknown>, textIsSafe = false): ParseResult {
  if (e.zone_id === undefined || e.zone_id === null || e.zone_id === '') return reject('missing_zone', 'the event names no zone_id');
  if (typeof e.zone_id !== 'string' || !UUID.test(e.zone_id)) return reject('invalid_event', 'zone_id must be a lowercase UUID');
  if (typeof e.id !== 'string' || !UUID.test(e.id)) return reject('invalid_event', 'id must be a lowercase UUID');
  if (typeof e.type !== 'string' || !TYPE.test(e.type)) return reject('invalid_event', 'type must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  if (typeof e.source !== 'string' || !TYPE.test(e.source)) return reject('invalid_event', 'source must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  const occurred = typeof e.occurred_at === 'string' ? isoTime(e.occurred_at) : Number.NaN;
  // Bounded so the ISO form always has a four-digit year, as Postgres renders it.
  if (!Number.isFinite(occurred) || occurred < Date.UTC(2000, 0, 1) || occurred >= Date.UTC(10000, 0, 1)) {
    return reject('invalid_event', 'occurred_at must be an ISO 8601 time between 2000 and 9999');
  }
  if (e.decision !== undefined && e.decision !== null && e.decision !== 'allow' && e.decision !== 'deny') return reject('invalid_event', "decision must be 'allow' or 'deny'");
  const text: Partial<Record<(typeof OPTIONAL_TEXT)[number], string | null>> = {};
  for (const k of OPTIONAL_TEXT) {
    const v = e[k];
    if (v === undefined || v === null || v === '') text[k] = null;
    else if (typeof v !== 'string' || v.length > TEXT_MAX || CONTROL.test(v) || !wellFormed(v)) return reject('invalid_event', `${k} must be text of at most ${TEXT_MAX} characters without control characters`);
    else text[k] = v;
  }
  const bad = textIsSafe ? undefined : unstorable(e, 'event');
  if (bad) return reject('invalid_event', bad);
  return {
    ok: true,
    event: {
      event_id: e.id,
      zone_id: e.zone_id,
      occurred_at: new Date(occurred).toISOString(),
      source: e.source,
      event_type: e.type,
      decision: (e.decision as string | null | undefined) ?? null,
      reason: text.reason ?? null,
      request_id: text.request_id ?? null,
      application_id: text.application_id ?? null,
      resource: text.resource ?? null,
      subject: text.subject ?? null,
      data: canonicalJson(e),
    },
  };
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 date-time to epoch ms, or NaN. Stricter than Date.parse, which rolls 2025-02-30 over into March:
 * the stored time would then disagree with the text inside the event.
 */
export function isoTime(s: string): number {
  const m = ISO.exec(s);
  if (!m) return Number.NaN;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const t = Date.UTC(y, mo - 1, d, h, mi, se, ms);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return Number.NaN;
  if (m[8] === 'Z') return t;
  const oh = Number(m[10]);
  const om = Number(m[11]);
  if (oh > 23 || om > 59) return Number.NaN;
  return t - (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);

/** Postgres jsonb refuses NUL and lone surrogates; finding them here keeps one bad event from failing a batch. */
function unstorable(value: unknown, path: string, depth = 0): string | undefined {
  if (depth > 32) return `${path} is nested deeper than 32 levels`;
  if (typeof value === 'string') return value.includes('\u0000') || !wellFormed(value) ? `${path} holds NUL or an unpaired surrogate` : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000') || !wellFormed(k)) return `${path} has a key with NUL or an unpaired surrogate`;
    const found = unstorable(v, `${path}.${k}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * Which field list a row's content hash covers (migration 0012): 1, the event's fields (rows written before it);
 * 2, the event's fields and then the ledger's receipt time `recorded_at`, which readers are served as well.
 */
export type HashVersion = 1 | 2;
export const HASH_VERSION: HashVersion = 2;

/**
 * The content hash's fields, in their fixed order (R-AUD-2), `data` being the canonical JSON text; absent values are
 * empty strings. With `recordedAt` (millisecond ISO 8601 UTC) the list is version 2's; without, version 1's.
 */
export function contentFields(e: Omit<LedgerEvent, 'data'>, data: string, recordedAt?: string): string[] {
  const fields = [
    e.event_id,
    e.zone_id,
    e.occurred_at,
    e.source,
    e.event_type,
    e.decision ?? '',
    e.reason ?? '',
    e.request_id ?? '',
    e.application_id ?? '',
    e.resource ?? '',
    e.subject ?? '',
    data,
  ];
  if (recordedAt !== undefined) fields.push(recordedAt);
  return fields;
}
