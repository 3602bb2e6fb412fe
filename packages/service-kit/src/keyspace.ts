// Every Redis key the authority path writes, built in one place (R-STS-4, R-GW-1, R-GW-2). The prefix lets
// installations and test runs share one Redis; request data inside a key is length-checked by its callers.
import type { Redis } from 'ioredis';

export class AuthorityKeyspace {
  constructor(readonly prefix: string = '') {
    if (!/^[A-Za-z0-9:._-]*$/.test(prefix)) throw new TypeError('redis key prefix may only hold A-Z a-z 0-9 : . _ -');
  }

  /** A jti the STS issued (R-STS-4): registered once, for the mandate's lifetime. */
  jtiIssued(jti: string): string {
    return `${this.prefix}caracal:jti:issued:${jti}`;
  }

  /** A jti the gateway has consumed (R-GW-1): a mandate is single-use at the gateway. */
  jtiUsed(jti: string): string {
    return `${this.prefix}caracal:jti:used:${jti}`;
  }

  /** A jti the control endpoint has consumed (R-CTL-1): a control mandate is single-use. */
  controlJtiUsed(jti: string): string {
    return `${this.prefix}caracal:jti:control:${jti}`;
  }

  /** The control endpoint's token bucket of one subject of one zone (R-CTL-1). */
  controlBucket(zoneId: string, subject: string): string {
    return `${this.prefix}caracal:rl:control:${zoneId}:${subject}`;
  }

  /** A gateway → STS request nonce (R-GW-2): single-use within the skew window. */
  gatewayNonce(nonce: string): string {
    return `${this.prefix}caracal:gwnonce:${nonce}`;
  }

  /** Failed client authentications, counted per client and per source (R-STS-4). */
  authFailures(...parts: string[]): string {
    return `${this.prefix}caracal:rl:authfail:${parts.join(':')}`;
  }

  /** Mints per (zone, resource, actor) (R-STS-4). */
  mintRate(zoneId: string, resource: string, actor: string): string {
    return `${this.prefix}caracal:rl:mint:${zoneId}:${resource}:${actor}`;
  }
}

/** `SET key 1 EX ttl NX`: true when this caller claimed the key first. A Redis error throws (callers fail closed). */
export async function claimOnce(redis: Redis, key: string, ttlSeconds: number): Promise<boolean> {
  const res = await redis.set(key, '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX');
  return res === 'OK';
}
