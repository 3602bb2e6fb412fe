// Verifies a mandate: size, ES256 only, known kid of the token's zone, signature, iss/aud/exp/nbf, use.
// Every failure is a named reason; nothing here talks to the network (the key resolver is passed in).
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type CryptoKey, type KeyObject } from 'jose';
import { MANDATE_ALG, MANDATE_TYP, MAX_TOKEN_BYTES, UUID, type MandateClaims, type MandateUse } from './claims.js';

export type VerifyFailure =
  | 'token_too_large'
  | 'malformed_token'
  | 'alg_not_allowed'
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

/** Returns the key for (zone, kid), undefined when unknown; throws when the key source itself fails. */
export type KeyResolver = (zoneId: string, kid: string) => Promise<CryptoKey | KeyObject | undefined>;

export interface VerifyOptions {
  resolveKey: KeyResolver;
  issuer: string;
  audience?: string;
  use: MandateUse | readonly MandateUse[];
  currentDate?: Date;
  clockToleranceSeconds?: number;
}

const REQUIRED = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti'] as const;

function mapJoseError(err: unknown): VerifyFailure {
  if (err instanceof errors.JWTExpired) return 'token_expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'token_not_yet_valid';
    if (err.claim === 'iss') return 'wrong_issuer';
    if (err.claim === 'aud') return 'wrong_audience';
    return 'invalid_claims';
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  return 'malformed_token';
}

export async function verifyMandate(token: string, opts: VerifyOptions): Promise<VerifyResult> {
  if (Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) return { ok: false, reason: 'token_too_large' };
  let kid: string | undefined;
  let zoneId: unknown;
  try {
    const header = decodeProtectedHeader(token);
    // Refuse before looking up any key: `none`, HS256-with-the-public-key and friends never get that far.
    if (header.alg !== MANDATE_ALG) return { ok: false, reason: 'alg_not_allowed' };
    kid = header.kid;
    zoneId = decodeJwt(token).zone_id;
  } catch {
    return { ok: false, reason: 'malformed_token' };
  }
  if (typeof kid !== 'string' || kid === '' || typeof zoneId !== 'string' || !UUID.test(zoneId)) return { ok: false, reason: 'malformed_token' };
  let key: CryptoKey | KeyObject | undefined;
  try {
    key = await opts.resolveKey(zoneId, kid);
  } catch {
    return { ok: false, reason: 'key_unavailable' };
  }
  if (!key) return { ok: false, reason: 'unknown_key' };
  let claims: MandateClaims;
  try {
    const res = await jwtVerify(token, key, {
      algorithms: [MANDATE_ALG],
      issuer: opts.issuer,
      audience: opts.audience,
      typ: MANDATE_TYP,
      requiredClaims: [...REQUIRED],
      currentDate: opts.currentDate,
      clockTolerance: opts.clockToleranceSeconds ?? 0,
    });
    claims = res.payload as unknown as MandateClaims;
  } catch (err) {
    return { ok: false, reason: mapJoseError(err) };
  }
  const uses = Array.isArray(opts.use) ? opts.use : [opts.use];
  if (!uses.includes(claims.use)) return { ok: false, reason: 'wrong_use' };
  if (claims.zone_id !== zoneId || typeof claims.sid !== 'string' || typeof claims.scope !== 'string' || typeof claims.client_id !== 'string') {
    return { ok: false, reason: 'invalid_claims' };
  }
  return { ok: true, claims };
}
