// Admin tokens (R-API-1): stored as SHA-256 only, shown once; global or confined to one zone.
import type { PoolClient } from '@caracal/db';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { InvalidRequest, NotFound } from '@caracal/service-kit';
import { authorize, sha256Hex } from '../auth/admin-auth.js';
import { audited, type ApiContext } from '../context.js';
import { resolveZone } from '../repos/zones.js';
import { list } from './schemas.js';

const tokenOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    scope: { type: 'string' },
    zone_id: { type: ['string', 'null'] },
    capabilities: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string', format: 'date-time' },
    expires_at: { type: ['string', 'null'], format: 'date-time' },
    revoked_at: { type: ['string', 'null'], format: 'date-time' },
    token: { type: 'string' },
  },
} as const;
const COLS = 'id, name, scope, zone_id, capabilities, created_at, expires_at, revoked_at';

interface TokenBody {
  name: string;
  scope: 'global' | 'zone';
  zone?: string;
  capabilities: Array<'read' | 'write' | 'approve'>;
  expires_in_seconds?: number;
}

export function adminTokenRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: TokenBody }>(
    '/v1/admin-tokens',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'scope', 'capabilities'],
          properties: {
            name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
            scope: { type: 'string', enum: ['global', 'zone'] },
            zone: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' },
            capabilities: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: ['read', 'write', 'approve'] } },
            expires_in_seconds: { type: 'integer', minimum: 60, maximum: 31_536_000 },
          },
        },
        response: { 201: tokenOut },
      },
    },
    async (req, reply) => {
      authorize(req, 'write');
      const b = req.body;
      if ((b.scope === 'zone') !== (b.zone !== undefined)) throw new InvalidRequest("'zone' is required for scope 'zone' and refused for scope 'global'");
      const zoneId = b.zone ? (await resolveZone(ctx.deps.pool, b.zone)).id : null;
      const token = randomBytes(32).toString('hex');
      const row = await audited(ctx, req, {
        zoneId: null,
        action: 'admin_token.create',
        target: (t) => `admin_token:${t.id}`,
        detail: (t) => ({ name: t.name, scope: t.scope, zone_id: t.zone_id, capabilities: t.capabilities }),
        run: async (c: PoolClient) =>
          (
            await c.query(
              `INSERT INTO admin_tokens (token_sha256, name, scope, zone_id, capabilities, expires_at)
               VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::int IS NULL THEN NULL ELSE now() + make_interval(secs => $6::int) END) RETURNING ${COLS}`,
              [sha256Hex(token), b.name, b.scope, zoneId, b.capabilities, b.expires_in_seconds ?? null],
            )
          ).rows[0],
      });
      return reply.code(201).send({ ...row, token });
    },
  );

  app.get('/v1/admin-tokens', { schema: { response: { 200: list(tokenOut) } } }, async (req) => {
    authorize(req, 'read');
    return { items: (await ctx.deps.pool.query(`SELECT ${COLS} FROM admin_tokens ORDER BY created_at`)).rows };
  });

  app.delete<{ Params: { id: string } }>(
    '/v1/admin-tokens/:id',
    { schema: { params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } }, response: { 200: tokenOut } } },
    async (req) => {
      authorize(req, 'write');
      return audited(ctx, req, {
        zoneId: null,
        action: 'admin_token.revoke',
        target: () => `admin_token:${req.params.id}`,
        run: async (c: PoolClient) => {
          const res = await c.query(`UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING ${COLS}`, [req.params.id]);
          if (!res.rows[0]) throw new NotFound(`admin token '${req.params.id}' does not exist`);
          return res.rows[0];
        },
      });
    },
  );

  app.get('/v1/whoami', async (req) => {
    const a = req.admin!;
    return { id: a.id, name: a.name, scope: a.scope, zone_id: a.zoneId, capabilities: [...a.capabilities] };
  });
}
