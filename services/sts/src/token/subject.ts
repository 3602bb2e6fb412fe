// Verifies the subject token of an exchange (RFC 8693 §2.1): one of our own mandates, session or gateway use.
import type { FastifyRequest } from 'fastify';
import { decodeCompact, UUID, verifyMandate, type MandateClaims } from '@caracal/mandates';
import type { StsContext } from '../context.js';
import { invalidGrant, unavailable } from './oauth-errors.js';

/** The zone a token claims, unverified: only used to file a denial in that zone's audit chain. */
function claimedZone(token: string): string | undefined {
  const z = decodeCompact(token)?.payload.zone_id;
  return typeof z === 'string' && UUID.test(z) ? z : undefined;
}

export async function verifySubject(ctx: StsContext, req: FastifyRequest, token: string): Promise<MandateClaims> {
  req.auditZone = claimedZone(token);
  const res = await verifyMandate(token, {
    resolveKey: (zone, kid) => ctx.keys.verifyKey(zone, kid),
    issuer: ctx.issuer,
    use: ['session', 'gateway'],
  });
  if (!res.ok) {
    if (res.reason === 'key_unavailable') throw unavailable('signing keys unavailable', 'key_unavailable');
    throw invalidGrant(`the subject token is not acceptable (${res.reason})`, res.reason);
  }
  const aud = Array.isArray(res.claims.aud) ? res.claims.aud : [res.claims.aud];
  if (res.claims.use === 'session' && !aud.includes(ctx.issuer)) throw invalidGrant('the subject token is not acceptable (wrong_audience)', 'wrong_audience');
  return res.claims;
}
