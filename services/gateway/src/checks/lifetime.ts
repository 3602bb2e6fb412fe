// Check: the mandate lives no longer than the STS can issue. A far-future `exp` cannot come from the STS, and
// would otherwise pin a replay-registry entry for that long (R-STS-2: mandates live at most 60 minutes).
import { deny, established, type Exchange } from './exchange.js';

export function lifetimeWithinMax(x: Exchange): void {
  const claims = established(x.claims, 'the verified claims');
  const max = x.ctx.config.GATEWAY_MAX_MANDATE_LIFETIME_SECONDS;
  const now = Math.floor(x.ctx.now() / 1000);
  if (claims.exp - claims.iat > max || claims.exp - now > max) throw deny(x, 'lifetime_exceeded', 'the mandate lifetime exceeds what the issuer grants');
}
