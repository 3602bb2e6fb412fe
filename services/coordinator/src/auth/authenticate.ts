// Who may drive agent sessions (R-CO-1): the operator with the coordinator token (`caracalCoordinatorToken`, compared
// by SHA-256 in constant time like the api's bootstrap admin token), or an application with a session mandate
// (ES256, verified as the STS verifies subject tokens: issuer, audience = issuer, use `session`, its zone's keys)
// carrying `agent:lifecycle`, confined to the mandate's zone. Any dependency error denies (503).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { withZone, type Pool } from '@caracal/db';
import { scopesOf, verifyMandate, type KeyResolver, type MandateClaims } from '@caracal/mandates';
import { hitRateLimit, ServiceError, ServiceUnavailable, TooManyRequests } from '@caracal/service-kit';

export const LIFECYCLE_SCOPE = 'agent:lifecycle';

export type Caller =
  | { kind: 'operator'; actor: string }
  | { kind: 'mandate'; actor: string; zoneId: string; applicationId: string; clientId: string };

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

/** RFC 6750 §3.1: a valid token without the scope the route needs. */
export class InsufficientScope extends ServiceError {
  constructor(description: string) {
    super(403, 'insufficient_scope', description, { 'www-authenticate': `Bearer error="insufficient_scope", scope="${LIFECYCLE_SCOPE}"` });
  }
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export interface AuthOptions {
  pool: Pool;
  redis: Redis;
  keyPrefix: string;
  token: string | undefined;
  issuer: string | undefined;
  resolveKey: KeyResolver;
  ratePerMinute: number;
}

async function operator(opts: AuthOptions, expected: Buffer | undefined, token: string): Promise<Caller> {
  if (!expected) throw new ServiceUnavailable('CARACAL_COORDINATOR_TOKEN is not configured: operator requests cannot be authenticated');
  if (!timingSafeEqual(expected, sha256(token))) throw new InvalidToken('the bearer token is not the coordinator token');
  return { kind: 'operator', actor: 'coordinator:operator' };
}

async function mandate(opts: AuthOptions, req: FastifyRequest, token: string): Promise<Caller> {
  if (!opts.issuer) throw new ServiceUnavailable('CARACAL_ISSUER_URL is not configured: session mandates cannot be verified');
  // Every use verifies, so a gateway or resource mandate is refused with its own reason, as the STS does (subject.ts).
  const res = await verifyMandate(token, { resolveKey: opts.resolveKey, issuer: opts.issuer, use: ['session', 'gateway', 'resource'] });
  if (!res.ok) {
    if (res.reason === 'key_unavailable') throw new ServiceUnavailable('signing keys unavailable');
    throw new InvalidToken(`the session mandate is not acceptable (${res.reason})`);
  }
  const claims: MandateClaims = res.claims;
  // The signature held: the zone is proven and refusals from here on are filed in it.
  req.provenZone = claims.zone_id;
  if (claims.use !== 'session') throw new InvalidToken('the session mandate is not acceptable (wrong_use)');
  if (!(Array.isArray(claims.aud) ? claims.aud : [claims.aud]).includes(opts.issuer)) throw new InvalidToken('the session mandate is not acceptable (wrong_audience)');
  if (!scopesOf(claims).includes(LIFECYCLE_SCOPE)) throw new InsufficientScope(`the mandate lacks the '${LIFECYCLE_SCOPE}' scope`);
  // The lineage must still stand: a revoked authority session or a disabled application denies (R-STS-6).
  const row = await withZone(opts.pool, claims.zone_id, async (c) =>
    (
      await c.query<{ application_id: string; revoked: boolean; disabled: boolean }>(
        `SELECT a.id AS application_id, s.revoked_at IS NOT NULL AS revoked, a.disabled_at IS NOT NULL AS disabled
           FROM authority_sessions s JOIN applications a ON a.id = s.application_id WHERE s.id = $1 AND a.client_id = $2`,
        [claims.sid, claims.client_id],
      )
    ).rows[0],
  );
  if (!row) throw new InvalidToken('the session mandate is not acceptable (unknown_session)');
  if (row.revoked) throw new InvalidToken('the session mandate is not acceptable (session_revoked)');
  if (row.disabled) throw new InvalidToken('the session mandate is not acceptable (application_disabled)');
  return { kind: 'mandate', actor: `client:${claims.client_id}`, zoneId: claims.zone_id, applicationId: row.application_id, clientId: claims.client_id };
}

export function authenticate(opts: AuthOptions) {
  const expected = opts.token ? sha256(opts.token) : undefined;
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    const header = req.headers.authorization;
    if (!header) throw new InvalidToken('a bearer token is required (the coordinator token or a session mandate)');
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    if (!m) throw new InvalidToken('the bearer token is malformed');
    const token = m[1]!;
    // The coordinator token is 64 hex characters; a mandate is a compact JWS and never looks like one.
    try {
      req.caller = /^[0-9a-f]{64}$/.test(token) ? await operator(opts, expected, token) : await mandate(opts, req, token);
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      throw new ServiceUnavailable('the credential store is unavailable');
    }
    let verdict;
    try {
      const who = req.caller.kind === 'operator' ? 'operator' : `client:${req.caller.clientId}`;
      verdict = await hitRateLimit(opts.redis, `${opts.keyPrefix}caracal:rl:coordinator:${who}`, opts.ratePerMinute, 60);
    } catch {
      throw new ServiceUnavailable('rate limiter unavailable');
    }
    if (!verdict.allowed) throw new TooManyRequests('coordinator rate limit exceeded', verdict.retryAfterSeconds);
  };
}

/**
 * A value the operator names and a mandate already carries: with the coordinator token it is required; with a
 * mandate it defaults to the mandate's own, and naming another is refused without looking at anything there.
 */
function confined(req: FastifyRequest, requested: string | undefined, field: string, own: (c: Extract<Caller, { kind: 'mandate' }>) => string, mismatch: ServiceError): string {
  const caller = req.caller!;
  if (caller.kind === 'operator') {
    if (requested === undefined) throw new ServiceError(400, 'invalid_request', `${field}: is required with the coordinator token`);
    return requested;
  }
  if (requested !== undefined && requested !== own(caller)) throw mismatch;
  return own(caller);
}

/** The zone a request acts in: a mandate is confined to its own zone. */
export const zoneOf = (req: FastifyRequest, requested: string | undefined) =>
  confined(req, requested, 'zone_id', (c) => c.zoneId, new ServiceError(403, 'zone_mismatch', 'this session mandate is for another zone'));

/** The application a new session acts for: a mandate starts sessions only for its own. */
export const applicationOf = (req: FastifyRequest, requested: string | undefined) =>
  confined(req, requested, 'application_id', (c) => c.applicationId, new ServiceError(403, 'application_mismatch', 'a session mandate starts sessions only for its own application'));
