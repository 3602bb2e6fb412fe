// Check: the mandate's jti is claimed once for its remaining lifetime (R-GW-1); the Redis key comes from the
// shared keyspace. A replay registry that cannot answer denies (fail closed).
import { claimOnce } from '@caracal/service-kit';
import { deny, established, type Exchange } from './exchange.js';

// The entry outlives the mandate a little, so a clock step cannot reopen it.
const GRACE_SECONDS = 60;

export async function jtiSingleUse(x: Exchange): Promise<void> {
  const claims = established(x.claims, 'the verified claims');
  const ttl = claims.exp - Math.floor(x.ctx.now() / 1000) + GRACE_SECONDS;
  let fresh: boolean;
  try {
    fresh = await claimOnce(x.ctx.deps.redis, x.ctx.keyspace.jtiUsed(claims.jti), ttl);
  } catch {
    throw deny(x, 'redis_unavailable', 'the replay registry is unavailable');
  }
  if (!fresh) throw deny(x, 'token_replayed');
}
