// Zones and their signing keys (R-API-1, R-STS-2 rotation).
import type { PoolClient } from '@caracal/db';
import type { FastifyInstance } from 'fastify';
import { createZoneKey } from '@caracal/mandates';
import { ServiceUnavailable } from '@caracal/service-kit';
import { STREAMS } from '@caracal/streams';
import { authorize } from '../auth/admin-auth.js';
import { audited, mapDbError, type ApiContext } from '../context.js';
import { insertZone, listZones, resolveZone } from '../repos/zones.js';
import { rotateZoneKey } from '../repos/signing-keys.js';
import { list, zoneOut, zoneParam } from './schemas.js';

export function zoneRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: { slug: string; name: string } }>(
    '/v1/zones',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['slug', 'name'],
          properties: { slug: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }, name: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: { 201: zoneOut },
      },
    },
    async (req, reply) => {
      authorize(req, 'write');
      const zone = await audited(ctx, req, {
        zoneId: null,
        action: 'zone.create',
        target: (z) => `zone:${z.id}`,
        detail: (z) => ({ slug: z.slug }),
        run: (c: PoolClient) => insertZone(c, req.body.slug, req.body.name).catch((e) => mapDbError(e, `zone '${req.body.slug}' already exists`)),
      });
      return reply.code(201).send(zone);
    },
  );

  app.get('/v1/zones', { schema: { response: { 200: list(zoneOut) } } }, async (req) => {
    const admin = authorize(req, 'read', req.admin?.scope === 'zone' ? req.admin.zoneId : undefined);
    return { items: await listZones(ctx.deps.pool, admin.scope === 'zone' ? admin.zoneId : null) };
  });

  app.get<{ Params: { zone: string } }>('/v1/zones/:zone', { schema: { params: zoneParam, response: { 200: zoneOut } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'read', zone.id);
    return zone;
  });

  app.post<{ Params: { zone: string } }>(
    '/v1/zones/:zone/rotate-key',
    { schema: { params: zoneParam, response: { 200: { type: 'object', properties: { kid: { type: 'string' }, previous_kid: { type: ['string', 'null'] }, previous_valid_until: { type: ['string', 'null'] } } } } } },
    async (req) => {
      const zone = await resolveZone(ctx.deps.pool, req.params.zone);
      authorize(req, 'write', zone.id);
      const kek = ctx.config.SECRET_STORE_KEK;
      if (!kek) throw new ServiceUnavailable('SECRET_STORE_KEK is not configured');
      const next = await createZoneKey(kek, zone.id);
      const result = await audited(ctx, req, {
        zoneId: zone.id,
        action: 'zone.rotate_key',
        target: () => `zone:${zone.id}`,
        detail: (r) => ({ kid: r.kid, previous_kid: r.previous_kid }),
        run: (c: PoolClient) => rotateZoneKey(c, zone.id, next, ctx.config.KEY_OVERLAP_SECONDS),
        announce: (r) => ({ stream: STREAMS.keysInvalidate, fields: { zone_id: zone.id, kid: r.kid, action: 'rotated' } }),
      });
      return result;
    },
  );
}
