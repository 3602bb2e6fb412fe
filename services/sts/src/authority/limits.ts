// The authority path's replay registry and rate limits in Redis (R-STS-4, R-GW-2), all keys from the shared
// AuthorityKeyspace. Every Redis failure throws; the callers turn it into a 503 (fail closed).
import { AuthorityKeyspace, claimOnce, hitRateLimit, type RateVerdict, type ServiceDeps } from '@caracal/service-kit';

type Redis = ServiceDeps['redis'];

const AUTH_WINDOW_SECONDS = 60;

export class AuthorityLimits {
  readonly keys: AuthorityKeyspace;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new AuthorityKeyspace(prefix);
  }

  /** Registers an issued jti for the mandate's lifetime; false when it already existed. */
  registerJti(jti: string, ttlSeconds: number): Promise<boolean> {
    return claimOnce(this.redis, this.keys.jtiIssued(jti), ttlSeconds);
  }

  /** A gateway request nonce is single-use within the ±60 s skew window (kept 180 s). */
  claimGatewayNonce(nonce: string): Promise<boolean> {
    return claimOnce(this.redis, this.keys.gatewayNonce(nonce), 180);
  }

  /**
   * Failed authentications of one client in the current window, from this source address and from all of them
   * (issue 8 item 5): a guesser elsewhere cannot exhaust the real client's allowance.
   */
  async authFailures(clientId: string, source: string, nowMs = Date.now()): Promise<{ fromSource: number; total: number; retryAfterSeconds: number }> {
    const window = Math.floor(nowMs / 1000 / AUTH_WINDOW_SECONDS);
    const [fromSource, total] = await this.redis.mget(`${this.keys.authFailures(clientId, source)}:${window}`, `${this.keys.authFailures(clientId)}:${window}`);
    return { fromSource: Number(fromSource ?? 0), total: Number(total ?? 0), retryAfterSeconds: AUTH_WINDOW_SECONDS - (Math.floor(nowMs / 1000) % AUTH_WINDOW_SECONDS) };
  }

  async recordAuthFailure(clientId: string, source: string): Promise<void> {
    await Promise.all([
      hitRateLimit(this.redis, this.keys.authFailures(clientId, source), Number.MAX_SAFE_INTEGER, AUTH_WINDOW_SECONDS),
      hitRateLimit(this.redis, this.keys.authFailures(clientId), Number.MAX_SAFE_INTEGER, AUTH_WINDOW_SECONDS),
    ]);
  }

  /** One more mint for (zone, resource, actor) against `limit` per minute. */
  mint(zoneId: string, resource: string, actor: string, limit: number): Promise<RateVerdict> {
    return hitRateLimit(this.redis, this.keys.mintRate(zoneId, resource, actor), limit, 60);
  }
}
