// Message signatures. Non-audit streams sign a canonical form of the fields (R-STR-2); audit messages sign the
// raw event JSON (R-STR-3). Comparison is constant-time.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type FieldValue = string | number | boolean | null | undefined;
export type Fields = Record<string, FieldValue>;

export const SIG_FIELD = '_sig';

/**
 * The canonical form does not escape, so a newline in a value or a `=`/newline in a key could make two different
 * messages share one canonical string. Such fields are refused: never signed, never verified.
 */
export function ambiguousField(fields: Fields): string | undefined {
  for (const [k, v] of Object.entries(fields)) {
    if (k === SIG_FIELD || v === null || v === undefined) continue;
    if (k === '' || /[=\n]/.test(k) || String(v).includes('\n')) return k;
  }
  return undefined;
}

/** stream + "\n", then `key=value\n` for each field except `_sig` and nulls, keys in ascending byte order. */
export function canonicalize(stream: string, fields: Fields): string {
  const keys = Object.keys(fields)
    .filter((k) => k !== SIG_FIELD && fields[k] !== null && fields[k] !== undefined)
    .sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  let out = `${stream}\n`;
  for (const k of keys) out += `${k}=${String(fields[k])}\n`;
  return out;
}

const HEX_KEY = /^(?:[0-9a-fA-F]{2})+$/;

export function hmacHex(key: string, data: string): string {
  // Buffer.from(…, 'hex') silently stops at the first non-hex pair: a malformed key would become an empty
  // (forgeable) HMAC key instead of an error.
  if (!HEX_KEY.test(key)) throw new TypeError('HMAC key must be non-empty hex');
  return createHmac('sha256', Buffer.from(key, 'hex')).update(data, 'utf8').digest('hex');
}

/** Throws the reason when the fields could not be signed unambiguously. */
export function assertSignable(fields: Fields): void {
  const bad = ambiguousField(fields);
  if (bad !== undefined) throw new TypeError(`field '${bad.replace(/\n/g, '\\n')}' cannot be signed: keys may not hold '=' or newlines, values may not hold newlines`);
}

export function signFields(stream: string, fields: Fields, key: string): Record<string, string> {
  assertSignable(fields);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== null && v !== undefined && k !== SIG_FIELD) out[k] = String(v);
  out[SIG_FIELD] = hmacHex(key, canonicalize(stream, fields));
  return out;
}

export function safeEqualHex(a: string, b: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(a) || !/^[0-9a-f]{64}$/.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

export function verifyFields(stream: string, fields: Fields, key: string): boolean {
  const sig = fields[SIG_FIELD];
  if (typeof sig !== 'string' || ambiguousField(fields) !== undefined) return false;
  return safeEqualHex(sig, hmacHex(key, canonicalize(stream, fields)));
}

export function signAuditData(data: string, key: string): { data: string; sig: string } {
  return { data, sig: hmacHex(key, data) };
}

export function verifyAuditData(fields: Fields, key: string): boolean {
  const { data, sig } = fields;
  if (typeof data !== 'string' || typeof sig !== 'string') return false;
  return safeEqualHex(sig, hmacHex(key, data));
}
