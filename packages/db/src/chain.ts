// The hash-chain primitives both ledgers share (R-AUD-2, R-AUD-5): a content hash over fields each followed by
// byte 0x1F, and an HMAC binding each row's content to its predecessor's.
import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';

/** `prev_content_sha256` of the first row of a chain. */
export const GENESIS = '0'.repeat(64);
const SEP = '\u001f';

/** SHA-256 over the fields in the given order, each followed by 0x1F. */
export function sha256Fields(fields: readonly string[]): string {
  // One one-shot hash of the joined string: the same bytes as one update per field, without a Hash object per row.
  return hash('sha256', `${fields.join(SEP)}${SEP}`, 'hex');
}

const HEX_KEY = /^(?:[0-9a-fA-F]{2})+$/;

/** Imports a hex HMAC key once; a malformed key is an error, never an empty (forgeable) key. */
export function chainKey(hex: string): KeyObject {
  if (!HEX_KEY.test(hex)) throw new TypeError('audit HMAC key must be non-empty hex');
  return createSecretKey(Buffer.from(hex, 'hex'));
}

/** HMAC-SHA256(key, content + "|" + prev), lowercase hex. */
export function chainHmac(key: KeyObject | string, content: string, prev: string): string {
  const k = typeof key === 'string' ? chainKey(key) : key;
  return createHmac('sha256', k).update(`${content}|${prev}`).digest('hex');
}
