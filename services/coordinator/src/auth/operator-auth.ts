// Operator authentication (R-CO-1): the coordinator token (`caracalCoordinatorToken`) as a bearer, compared by
// SHA-256 in constant time like the api's bootstrap admin token; per-caller rate limit in Redis, failing closed.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { hitRateLimit, ServiceError, ServiceUnavailable, TooManyRequests } from '@caracal/service-kit';

export interface Caller {
  kind: 'operator';
  /** The admin-audit actor and the audit event's subject. */
  actor: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export class InvalidToken extends ServiceError {
  constructor(description: string) {
    super(401, 'invalid_token', description, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export interface OperatorAuthOptions {
  redis: Redis;
  keyPrefix: string;
  token: string | undefined;
  ratePerMinute: number;
}

export function operatorAuth(opts: OperatorAuthOptions) {
  const expected = opts.token ? sha256(opts.token) : undefined;
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    const header = req.headers.authorization;
    if (!header) throw new InvalidToken('a bearer token is required (the coordinator token)');
    const m = /^Bearer ([0-9a-f]{64})$/.exec(header);
    if (!m) throw new InvalidToken('the bearer token is malformed');
    if (!expected) throw new ServiceUnavailable('CARACAL_COORDINATOR_TOKEN is not configured: operator requests cannot be authenticated');
    if (!timingSafeEqual(expected, sha256(m[1]!))) throw new InvalidToken('the bearer token is not the coordinator token');
    req.caller = { kind: 'operator', actor: 'coordinator:operator' };
    let verdict;
    try {
      verdict = await hitRateLimit(opts.redis, `${opts.keyPrefix}caracal:rl:coordinator:operator`, opts.ratePerMinute, 60);
    } catch {
      throw new ServiceUnavailable('rate limiter unavailable');
    }
    if (!verdict.allowed) throw new TooManyRequests('coordinator rate limit exceeded', verdict.retryAfterSeconds);
  };
}
