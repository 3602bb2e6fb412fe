// Verifies a mandate: size, ES256 only, our `typ`, a known kid of the token's zone, the signature, then
// iss/aud/exp/nbf and `use`. Every failure is a named reason; nothing here talks to the network (the key
// resolver is passed in). The signature is checked before any claim is believed.
import type { KeyObject } from 'node:crypto';
import { MANDATE_ALG, MANDATE_TYP, MAX_TOKEN_BYTES, UUID, type MandateClaims, type MandateUse } from './claims.js';
import { decodeCompact, verifyEs256 } from './jws.js';

export type VerifyFailure =
  | 'token_too_large'
  | 'malformed_token'
  | 'alg_not_allowed'
  | 'unknown_zone'
  | 'unknown_key'
  | 'bad_signature'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_use'
  | 'invalid_claims'
  | 'key_unavailable';

export type VerifyResult = { ok: true; claims: MandateClaims } | { ok: false; reason: VerifyFailure };

/**
 * Returns the key for (zone, kid), undefined when the kid is unknown, 'unknown_zone' when the zone publishes no
 * keys at all; throws when the key source itself fails.
 */
export type KeyResolver = (zoneId: string, kid: string) => Promise<KeyObject | undefined | 'unknown_zone'>;

/**
 * Signatures this verifier has already checked: a token presented again with the same key object skips ES256. The
 * signature is a pure function of the token's bytes and the key, so the answer is the same; every claim (expiry,
 * issuer, use, …) is still checked on every call, and the key is still resolved, so a retired or reloaded key
 * verifies afresh.
 */
export interface VerifiedSignatures {
  has(token: string, key: KeyObject): boolean;
  /** Called once the token verified and its claims held; `exp` (seconds) bounds how long it is worth keeping. */
  add(token: string, key: KeyObject, exp: number): void;
}

export interface VerifyOptions {
  resolveKey: KeyResolver;
  verified?: VerifiedSignatures;
  issuer: string;
  audience?: string;
  use: MandateUse | readonly MandateUse[];
  currentDate?: Date;
  clockToleranceSeconds?: number;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function checkClaims(c: Record<string, unknown>, opts: VerifyOptions): VerifyFailure | undefined {
  if (!isStr(c.iss) || !isStr(c.sub) || !isStr(c.jti) || !isNum(c.exp) || !isNum(c.iat) || !isNum(c.nbf)) return 'invalid_claims';
  if (!(isStr(c.aud) || (Array.isArray(c.aud) && c.aud.length > 0 && c.aud.every(isStr)))) return 'invalid_claims';
  if (!isStr(c.sid) || typeof c.scope !== 'string' || !isStr(c.client_id)) return 'invalid_claims';
  if (c.iss !== opts.issuer) return 'wrong_issuer';
  const aud = Array.isArray(c.aud) ? (c.aud as string[]) : [c.aud as string];
  if (opts.audience !== undefined && !aud.includes(opts.audience)) return 'wrong_audience';
  const now = Math.floor((opts.currentDate?.getTime() ?? Date.now()) / 1000);
  const tolerance = opts.clockToleranceSeconds ?? 0;
  if (c.exp <= now - tolerance) return 'token_expired';
  if (c.nbf > now + tolerance) return 'token_not_yet_valid';
  const uses: readonly MandateUse[] = Array.isArray(opts.use) ? opts.use : [opts.use as MandateUse];
  if (!uses.includes(c.use as MandateUse)) return 'wrong_use';
  return undefined;
}

export async function verifyMandate(token: string, opts: VerifyOptions): Promise<VerifyResult> {
  if (Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) return { ok: false, reason: 'token_too_large' };
  const d = decodeCompact(token);
  if (!d) return { ok: false, reason: 'malformed_token' };
  // Refuse before looking up any key: `none`, HS256-with-the-public-key and friends never get that far.
  if (d.header.alg !== MANDATE_ALG) return { ok: false, reason: 'alg_not_allowed' };
  if (d.header.crit !== undefined || d.header.typ !== MANDATE_TYP) return { ok: false, reason: 'malformed_token' };
  const kid = d.header.kid;
  const zoneId = d.payload.zone_id;
  if (typeof kid !== 'string' || kid === '' || typeof zoneId !== 'string' || !UUID.test(zoneId)) return { ok: false, reason: 'malformed_token' };
  let key: Awaited<ReturnType<KeyResolver>>;
  try {
    key = await opts.resolveKey(zoneId, kid);
  } catch {
    return { ok: false, reason: 'key_unavailable' };
  }
  if (key === 'unknown_zone') return { ok: false, reason: 'unknown_zone' };
  if (!key) return { ok: false, reason: 'unknown_key' };
  if (!opts.verified?.has(token, key) && !verifyEs256(d, key)) return { ok: false, reason: 'bad_signature' };
  const failure = checkClaims(d.payload, opts);
  if (failure) return { ok: false, reason: failure };
  opts.verified?.add(token, key, d.payload.exp as number);
  return { ok: true, claims: d.payload as unknown as MandateClaims };
}
