// Admin authentication (R-API-1): bearer token → SHA-256 → the bootstrap token or an admin_tokens row;
// capabilities read|write|approve; zone-scoped tokens are confined to their zone. Any dependency error denies.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Pool } from '@caracal/db';
import type { InternalPasses } from './internal-passes.js';
import { Forbidden, hitRateLimit, ServiceError, ServiceUnavailable, TooManyRequests } from '@caracal/service-kit';

export type Capability = 'read' | 'write' | 'approve';

export interface AdminPrincipal {
  id: string;
  name: string;
  scope: 'global' | 'zone';
  zoneId: string | null;
  capabilities: ReadonlySet<Capability>;
  /** How admin-audit rows name this principal when it is not an admin token (a control mandate's subject). */
  actor?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

class InvalidToken extends ServiceError {
  constructor(description: string) {
    super(401, 'invalid_token', description, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
}

export const sha256Hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

export interface AdminAuthOptions {
  pool: Pool;
  redis: Redis;
  keyPrefix: string;
  bootstrapToken: string | undefined;
  ratePerMinute: number;
  /** The api's own one-time passes (the control endpoint's dispatch), checked before any token. */
  passes?: InternalPasses;
}

export function adminAuth(opts: AdminAuthOptions) {
  const bootstrapHash = opts.bootstrapToken ? Buffer.from(sha256Hex(opts.bootstrapToken), 'hex') : undefined;
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    const header = req.headers.authorization;
    if (!header) throw new InvalidToken('an admin bearer token is required');
    const m = /^Bearer ([0-9a-f]{64})$/.exec(header);
    if (!m) throw new InvalidToken('the admin token is malformed');
    const hash = sha256Hex(m[1]!);
    const internal = opts.passes?.take(m[1]!);
    if (internal) {
      req.admin = internal;
    } else if (bootstrapHash && timingSafeEqual(bootstrapHash, Buffer.from(hash, 'hex'))) {
      req.admin = { id: 'bootstrap', name: 'bootstrap', scope: 'global', zoneId: null, capabilities: new Set(['read', 'write', 'approve']) };
    } else {
      let row;
      try {
        const res = await opts.pool.query<{ id: string; name: string; scope: 'global' | 'zone'; zone_id: string | null; capabilities: Capability[] }>(
          `SELECT id, name, scope, zone_id, capabilities FROM admin_tokens
            WHERE token_sha256 = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
          [hash],
        );
        row = res.rows[0];
      } catch {
        throw new ServiceUnavailable('admin token store unavailable');
      }
      if (!row) throw new InvalidToken('the admin token is unknown, revoked or expired');
      req.admin = { id: row.id, name: row.name, scope: row.scope, zoneId: row.zone_id, capabilities: new Set(row.capabilities) };
    }
    let verdict;
    try {
      verdict = await hitRateLimit(opts.redis, `${opts.keyPrefix}caracal:rl:api:${req.admin.id}`, opts.ratePerMinute, 60);
    } catch {
      throw new ServiceUnavailable('rate limiter unavailable');
    }
    if (!verdict.allowed) throw new TooManyRequests('admin API rate limit exceeded', verdict.retryAfterSeconds);
  };
}

/** Demands a capability, and for zone tokens that the zone is theirs. */
export function authorize(req: FastifyRequest, capability: Capability, zoneId?: string | null): AdminPrincipal {
  const admin = req.admin;
  if (!admin) throw new InvalidToken('an admin bearer token is required');
  if (!admin.capabilities.has(capability)) throw new Forbidden(`this admin token lacks the '${capability}' capability`);
  if (admin.scope === 'zone' && zoneId !== undefined && zoneId !== admin.zoneId) throw new Forbidden('this admin token is confined to another zone');
  if (admin.scope === 'zone' && zoneId === undefined) throw new Forbidden('this operation needs a global admin token');
  return admin;
}

export const actorOf = (a: AdminPrincipal) => a.actor ?? `admin:${a.name}(${a.id})`;
