// ES256 compact JWS on node:crypto (RFC 7515, RFC 7518 §3.4): one fixed algorithm, raw r||s signatures, checked
// synchronously. Mandates are minted and verified on every request, and going through WebCrypto's promise and
// threadpool hops costs several times the signature itself. Only what a mandate needs is supported.
import { sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';

const B64URL = /^[A-Za-z0-9_-]+$/;

export interface JwsHeader {
  alg: string;
  kid?: string;
  typ?: string;
  [k: string]: unknown;
}

const enc = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

export function signCompact(header: JwsHeader, payload: object, key: KeyObject): string {
  const input = `${enc(header)}.${enc(payload)}`;
  const sig = toLowS(nodeSign('sha256', Buffer.from(input, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }));
  return `${input}.${sig.toString('base64url')}`;
}

// Order of the P-256 group (SEC 2 §2.4.2). For any valid (r, s), (r, n - s) is valid too: only one of the two
// forms is accepted, so the same mandate cannot appear under a second signature string (malleability).
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_N = P256_N >> 1n;

const sOf = (sig: Buffer) => BigInt(`0x${sig.subarray(32, 64).toString('hex')}`);

/** The canonical (low-S, s <= n/2) form of a raw r || s ES256 signature; OpenSSL signs either form at random. */
export function toLowS(sig: Buffer): Buffer {
  if (sig.length !== 64) return sig;
  const s = sOf(sig);
  if (s <= HALF_N) return sig;
  const flipped = Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex');
  return Buffer.concat([sig.subarray(0, 32), flipped]);
}

export interface DecodedJws {
  header: JwsHeader;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

function parseJson(part: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and decodes without trusting anything; undefined when the token is not a well-formed compact JWS. */
export function decodeCompact(token: string): DecodedJws | undefined {
  const parts = token.split('.');
  // An empty signature still decodes, so `alg: none` is refused by name rather than as malformed.
  if (parts.length !== 3 || !B64URL.test(parts[0]!) || !B64URL.test(parts[1]!) || !(parts[2] === '' || B64URL.test(parts[2]!))) return undefined;
  const header = parseJson(parts[0]!);
  const payload = parseJson(parts[1]!);
  if (!header || !payload || typeof header.alg !== 'string') return undefined;
  return { header: header as JwsHeader, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
}

/**
 * ES256 signatures are exactly 64 bytes (r || s); anything else fails without reaching OpenSSL. A high-S
 * signature (s > n/2) is the malleated twin of a valid one and is refused: only the canonical form verifies.
 */
export function verifyEs256(d: DecodedJws, key: KeyObject): boolean {
  if (d.signature.length !== 64 || sOf(d.signature) > HALF_N) return false;
  try {
    return nodeVerify('sha256', Buffer.from(d.signingInput, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, d.signature);
  } catch {
    return false;
  }
}
