// Who calls the control endpoint (R-CTL-1): an ES256 mandate with audience `caracal-control` and use `control`,
// verified against its zone's public keys, whose authority session and application still stand, presented once
// (its jti is consumed in Redis). Every refusal is a named reason; a store that cannot answer denies with 503.
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { withZone, type Pool } from '@caracal/db';
import { answerFor, DenyError, type DenyReason } from '@caracal/deny-reasons';
import { verifyMandate, type KeyResolver, type MandateClaims } from '@caracal/mandates';
import { claimOnce, type AuthorityKeyspace } from '@caracal/service-kit';
import { lineageStanding } from '../repos/lineage.js';

export const CONTROL_AUDIENCE = 'caracal-control';

// The consumed jti outlives the mandate a little, so a clock step cannot reopen it.
const GRACE_SECONDS = 60;

/** A named refusal as a protected resource answers it; every 401 carries its RFC 6750 challenge. */
export const deny = (reason: DenyReason, headers: Record<string, string> = {}) =>
  new DenyError(reason, 'resource', undefined, undefined, answerFor(reason, 'resource').status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"', ...headers } : headers);

export interface MandateCheck {
  pool: Pool;
  redis: Redis;
  keyspace: AuthorityKeyspace;
  issuer: string;
  resolveKey: KeyResolver;
  /** Called once the signature holds: refusals from then on are filed in the mandate's zone. */
  proven: (claims: MandateClaims) => void;
}

function bearer(req: FastifyRequest): string {
  const m = /^Bearer ([\x21-\x7e]+)$/.exec(req.headers.authorization ?? '');
  if (!m) throw deny('missing_token');
  return m[1]!;
}

const REFUSED = { unknown: 'session_unknown', revoked: 'lineage_revoked' } as const;

async function standing(pool: Pool, claims: MandateClaims): Promise<DenyReason | undefined> {
  let found;
  try {
    found = await withZone(pool, claims.zone_id, (c) => lineageStanding(c, claims.sid, claims.client_id));
  } catch {
    throw deny('postgres_unavailable');
  }
  return found === 'live' ? undefined : REFUSED[found];
}

export async function controlMandate(req: FastifyRequest, x: MandateCheck): Promise<MandateClaims> {
  const res = await verifyMandate(bearer(req), { resolveKey: x.resolveKey, issuer: x.issuer, audience: CONTROL_AUDIENCE, use: 'control' });
  if (!res.ok) throw deny(res.reason);
  const claims = res.claims;
  x.proven(claims);
  const refused = await standing(x.pool, claims);
  if (refused) throw deny(refused);
  let fresh: boolean;
  try {
    fresh = await claimOnce(x.redis, x.keyspace.controlJtiUsed(claims.jti), claims.exp - Math.floor(Date.now() / 1000) + GRACE_SECONDS);
  } catch {
    throw deny('replay_store_unavailable');
  }
  if (!fresh) throw deny('token_replayed');
  return claims;
}
