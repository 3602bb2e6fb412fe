// Client authentication for the bootstrap grant (RFC 6749 §2.3.1): client_secret_basic or client_secret_post,
// never both; answered identically whatever went wrong. Failures are counted per client AND source address
// (R-STS-4, issue 8 item 5): client ids are not secret, so a guesser elsewhere must not lock the real client out.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { StsContext } from '../context.js';
import { param, type Form } from './form.js';
import { InvalidClient, InvalidRequest, orUnavailable, SlowDown } from './oauth-errors.js';

export interface AuthenticatedClient {
  zoneId: string;
  applicationId: string;
  clientId: string;
  labels: string[];
}

const CLIENT_ID = /^ci_([0-9a-f]{32})_[0-9a-f]{24}$/;

/** The zone a client id belongs to, or undefined when the id is not one of ours. */
export function zoneOfClientId(clientId: string): string | undefined {
  const m = CLIENT_ID.exec(clientId);
  if (!m) return undefined;
  const h = m[1]!;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function credentials(req: FastifyRequest, form: Form): { id: string; secret: string } {
  const header = req.headers.authorization;
  const postId = param(form, 'client_id');
  const postSecret = param(form, 'client_secret');
  if (header) {
    if (postSecret !== undefined) throw new InvalidRequest('use one client authentication method, not both');
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
    if (!m) throw new InvalidClient('invalid_client', 'malformed Basic authorization header');
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new InvalidClient('invalid_client', 'malformed Basic authorization header');
    try {
      return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
    } catch {
      throw new InvalidClient('invalid_client', 'malformed Basic authorization header');
    }
  }
  if (postId === undefined || postSecret === undefined) throw new InvalidClient('invalid_client', 'client authentication is required');
  return { id: postId, secret: postSecret };
}

export async function authenticateClient(ctx: StsContext, req: FastifyRequest, form: Form): Promise<AuthenticatedClient> {
  const { id, secret } = credentials(req, form);
  const zoneId = zoneOfClientId(id);
  if (!zoneId) throw new InvalidClient('unknown_client');
  // A well-formed id names who was tried; the zone is only trusted once a client row is found in it.
  req.auditDetail = Object.assign({}, req.auditDetail, { client_id: id });
  const source = req.ip;
  const tried = await orUnavailable('rate_limiter_unavailable', ctx.limits.authFailures(id, source));
  // Past the per-client ceiling only addresses that have already failed are slowed down: the client backs off
  // its guessers, never itself.
  const slowed = tried.fromSource >= ctx.config.AUTH_FAILURES_PER_MIN || (tried.total >= ctx.config.AUTH_FAILURES_PER_CLIENT_PER_MIN && tried.fromSource > 0);
  if (slowed) throw new SlowDown('auth_rate_limited', tried.retryAfterSeconds);
  const row = await orUnavailable('postgres_unavailable', ctx.repo.client(zoneId, id));
  if (row) req.auditZone = zoneId;
  const presented = createHash('sha256').update(secret, 'utf8').digest();
  const ok = row !== undefined && row.disabled_at === null && timingSafeEqual(presented, Buffer.from(row.secret_hash, 'hex'));
  if (!ok) {
    // Counting is best effort: a Redis error here must not turn a refusal into anything else.
    await ctx.limits.recordAuthFailure(id, source).catch(() => undefined);
    throw new InvalidClient(row === undefined ? 'unknown_client' : row.disabled_at ? 'client_disabled' : 'bad_client_secret');
  }
  return { zoneId, applicationId: row.id, clientId: id, labels: row.labels };
}
