// Client authentication for the bootstrap grant (RFC 6749 §2.3.1): client_secret_basic or client_secret_post,
// never both; failures are rate limited per client (R-STS-4) and answered identically whatever went wrong.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { withZone } from '@caracal/db';
import { hitRateLimit } from '@caracal/service-kit';
import type { StsContext } from '../context.js';
import { param, type Form } from './form.js';
import { invalidClient, invalidRequest, slowDown, unavailable } from './oauth-errors.js';

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
    if (postSecret !== undefined) throw invalidRequest('use one client authentication method, not both');
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
    if (!m) throw invalidClient('malformed Basic authorization header');
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidClient('malformed Basic authorization header');
    try {
      return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
    } catch {
      throw invalidClient('malformed Basic authorization header');
    }
  }
  if (postId === undefined || postSecret === undefined) throw invalidClient('client authentication is required');
  return { id: postId, secret: postSecret };
}

export async function authenticateClient(ctx: StsContext, req: FastifyRequest, form: Form): Promise<AuthenticatedClient> {
  const { id, secret } = credentials(req, form);
  const zoneId = zoneOfClientId(id);
  req.auditZone = zoneId;
  if (!zoneId) throw invalidClient('client authentication failed', 'unknown_client');
  const limiterKey = `${ctx.config.REDIS_KEY_PREFIX}caracal:rl:authfail:${id}`;
  let failures: number;
  try {
    failures = Number((await ctx.deps.redis.get(`${limiterKey}:${Math.floor(Date.now() / 60_000)}`)) ?? 0);
  } catch {
    throw unavailable('rate limiter unavailable', 'redis_unavailable');
  }
  if (failures >= ctx.config.AUTH_FAILURES_PER_MIN) throw slowDown('too many failed authentications for this client', 60, 'auth_rate_limited');
  let row: { id: string; secret_hash: string; disabled_at: Date | null; labels: string[] } | undefined;
  try {
    row = await withZone(ctx.deps.pool, zoneId, async (c) => (await c.query('SELECT id, secret_hash, disabled_at, labels FROM applications WHERE client_id = $1', [id])).rows[0]);
  } catch {
    throw unavailable('client store unavailable', 'postgres_unavailable');
  }
  const presented = createHash('sha256').update(secret, 'utf8').digest();
  const ok = row !== undefined && row.disabled_at === null && timingSafeEqual(presented, Buffer.from(row.secret_hash, 'hex'));
  if (!ok) {
    await hitRateLimit(ctx.deps.redis, limiterKey, Number.MAX_SAFE_INTEGER, 60).catch(() => undefined);
    throw invalidClient('client authentication failed', row === undefined ? 'unknown_client' : row.disabled_at ? 'client_disabled' : 'bad_client_secret');
  }
  return { zoneId, applicationId: row!.id, clientId: id, labels: row!.labels };
}
