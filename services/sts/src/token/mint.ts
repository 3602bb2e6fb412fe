// Signs a mandate with the zone's key and registers its jti (R-STS-4); any failure denies with 503.
import type { KeyObject } from 'node:crypto';
import { MAX_TOKEN_BYTES, signMandate, type MandateInput, type SignedMandate } from '@caracal/mandates';
import type { StsContext } from '../context.js';
import { InvalidGrant, orUnavailable, TemporarilyUnavailable } from './oauth-errors.js';

export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export async function registerJti(ctx: StsContext, jti: string, ttlSeconds: number): Promise<void> {
  if (!(await orUnavailable('replay_store_unavailable', ctx.limits.registerJti(jti, ttlSeconds)))) throw new TemporarilyUnavailable('jti_collision');
}

/** `issuedAt` (seconds): the instant the lifetime was computed from, so `exp` never passes a ceiling read then. */
export async function mint(ctx: StsContext, zoneId: string, input: MandateInput, issuedAt?: number): Promise<SignedMandate> {
  let signed: SignedMandate;
  let publicKey: KeyObject;
  try {
    const key = await ctx.keys.signingKey(zoneId);
    publicKey = key.publicKey;
    signed = await signMandate(input, key.key, key.kid, issuedAt);
  } catch (err) {
    ctx.logger.error({ err: { message: (err as Error).message }, zone_id: zoneId }, 'signing failed');
    throw new TemporarilyUnavailable('signing_unavailable');
  }
  // Every verifier refuses a mandate over 4 KiB: one that large is never issued (nor its jti registered).
  if (Buffer.byteLength(signed.token, 'utf8') > MAX_TOKEN_BYTES) throw new InvalidGrant('token_too_large', 'the mandate would be larger than 4 KiB; request fewer scopes');
  await registerJti(ctx, signed.claims.jti, input.ttlSeconds);
  // Kept with the key object the re-exchange resolves for this kid until the zone's keys are loaded again.
  if (input.use === 'gateway') ctx.issuedSignatures.remember(signed.token, publicKey, signed.claims.exp);
  return signed;
}

export function tokenResponse(signed: SignedMandate) {
  return {
    access_token: signed.token,
    token_type: 'Bearer',
    expires_in: signed.claims.exp - signed.claims.iat,
    scope: signed.claims.scope,
    issued_token_type: ACCESS_TOKEN_TYPE,
  };
}
