// Gateway → STS request signatures (R-GW-2): HMAC-SHA256 over timestamp, nonce, method, path and body hash,
// accepted within ±60 s; the verifier's caller makes each nonce single-use.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { randomHex } from './random-hex.js';

export { RandomPool, randomHex } from './random-hex.js';

export const HEADER = { timestamp: 'x-caracal-timestamp', nonce: 'x-caracal-nonce', signature: 'x-caracal-signature' } as const;
export const MAX_SKEW_SECONDS = 60;

export interface SignInput {
  key: string;
  method: string;
  path: string;
  body: string | Buffer;
  nowSeconds?: number;
  nonce?: string;
}

function canonical(ts: string, nonce: string, method: string, path: string, body: string | Buffer): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return `${ts}\n${nonce}\n${method.toUpperCase()}\n${path}\n${bodyHash}`;
}

function mac(key: string, text: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'hex')).update(text, 'utf8').digest();
}

export function signRequest(input: SignInput): Record<string, string> {
  const ts = String(input.nowSeconds ?? Math.floor(Date.now() / 1000));
  const nonce = input.nonce ?? randomHex(16);
  return {
    [HEADER.timestamp]: ts,
    [HEADER.nonce]: nonce,
    [HEADER.signature]: mac(input.key, canonical(ts, nonce, input.method, input.path, input.body)).toString('hex'),
  };
}

export type VerifyResult = { ok: true; nonce: string; timestamp: number } | { ok: false; reason: 'missing_signature' | 'malformed_signature' | 'clock_skew' | 'bad_signature' };

export function verifyRequest(
  headers: Record<string, string | string[] | undefined>,
  input: { key: string; method: string; path: string; body: string | Buffer; nowSeconds?: number },
): VerifyResult {
  const one = (h: string) => (typeof headers[h] === 'string' ? (headers[h] as string) : undefined);
  const ts = one(HEADER.timestamp);
  const nonce = one(HEADER.nonce);
  const sig = one(HEADER.signature);
  if (!ts || !nonce || !sig) return { ok: false, reason: 'missing_signature' };
  if (!/^\d{1,12}$/.test(ts) || !/^[0-9a-f]{32}$/.test(nonce) || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false, reason: 'malformed_signature' };
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(ts)) > MAX_SKEW_SECONDS) return { ok: false, reason: 'clock_skew' };
  const expected = mac(input.key, canonical(ts, nonce, input.method, input.path, input.body));
  if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return { ok: false, reason: 'bad_signature' };
  return { ok: true, nonce, timestamp: Number(ts) };
}
