// Verifies the subject token of an exchange (RFC 8693 §2.1): one of our own session mandates. A gateway mandate
// is for one resource call and never a subject (issue 8 item 2); delegated forms will be added as they exist.
import type { FastifyRequest } from 'fastify';
import { verifyMandate, type MandateClaims } from '@caracal/mandates';
import type { StsContext } from '../context.js';
import { InvalidGrant, isReasonOf, TemporarilyUnavailable } from './oauth-errors.js';

type SubjectReason = ConstructorParameters<typeof InvalidGrant>[0];
const refuse = (reason: SubjectReason) => new InvalidGrant(reason, `the subject token is not acceptable (${reason})`);

export async function verifySubject(ctx: StsContext, req: FastifyRequest, token: string): Promise<MandateClaims> {
  const res = await verifyMandate(token, {
    resolveKey: (zone, kid) => ctx.keys.verifyKey(zone, kid),
    verified: ctx.sessionSignatures,
    issuer: ctx.issuer,
    // Both uses verify, so that a gateway mandate is refused with its own reason, in its own (verified) zone.
    use: ['session', 'gateway'],
  });
  if (!res.ok) {
    if (res.reason === 'key_unavailable') throw new TemporarilyUnavailable('key_unavailable');
    // A verifier failure the registry does not class as a bad mandate is still one.
    throw refuse(isReasonOf(res.reason, 'mandate') ? res.reason : 'invalid_claims');
  }
  const claims = res.claims;
  // The signature held: from here on the zone is proven and denials are filed in it.
  req.auditZone = claims.zone_id;
  req.auditDetail = { client_id: claims.client_id, subject: claims.sub };
  if (claims.use !== 'session') throw refuse('subject_not_exchangeable');
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(ctx.issuer)) throw refuse('wrong_audience');
  return claims;
}
