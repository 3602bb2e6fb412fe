// Check: the mandate verifies (ES256 under its zone's published key, iss/aud/exp/nbf, use=gateway; R-GW-1).
import { verifyMandate } from '@caracal/mandates';
import { deny, established, type Exchange } from './exchange.js';

export async function mandateVerified(x: Exchange): Promise<void> {
  const token = established(x.token, 'the bearer token');
  const verified = await verifyMandate(token, { resolveKey: x.ctx.jwks.resolve, issuer: x.ctx.issuer, audience: x.resource, use: 'gateway', currentDate: new Date(x.ctx.now()) });
  if (verified.ok) {
    x.claims = verified.claims;
    return;
  }
  if (verified.reason === 'key_unavailable') throw deny(x, 'key_unavailable', 'signing keys cannot be fetched');
  throw deny(x, verified.reason, `the mandate is not acceptable (${verified.reason})`);
}
