// Grants (R-API-1): which application may ask for which scopes of which resource.
import type { FastifyInstance } from 'fastify';
import { withZone, type PoolClient } from '@caracal/db';
import { InvalidRequest, NotFound } from '@caracal/service-kit';
import { authorize } from '../auth/admin-auth.js';
import { audited, mapDbError, type ApiContext } from '../context.js';
import { findApplication } from '../repos/applications.js';
import { deleteGrant, insertGrant, listGrants } from '../repos/grants.js';
import { findResource } from '../repos/resources.js';
import { resolveZone } from '../repos/zones.js';
import { grantOut, list, scopeList, zoneAndId, zoneParam } from './schemas.js';

interface GrantBody {
  application: string;
  resource: string;
  scopes: string[];
  roles?: string[];
  approval_scopes?: string[];
  max_ttl_seconds?: number;
}

export function grantRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { zone: string }; Body: GrantBody }>(
    '/v1/zones/:zone/grants',
    {
      schema: {
        params: zoneParam,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['application', 'resource', 'scopes'],
          properties: {
            application: { type: 'string', minLength: 1, maxLength: 128 },
            resource: { type: 'string', minLength: 1, maxLength: 200 },
            scopes: scopeList,
            roles: { type: 'array', maxItems: 32, uniqueItems: true, items: { type: 'string', pattern: '^[a-z0-9:._-]{1,64}$' } },
            approval_scopes: { ...scopeList, minItems: 0 },
            max_ttl_seconds: { type: 'integer', minimum: 1, maximum: 3600 },
          },
        },
        response: { 201: grantOut },
      },
    },
    async (req, reply) => {
      const zone = await resolveZone(ctx.deps.pool, req.params.zone);
      authorize(req, 'write', zone.id);
      const gated = req.body.approval_scopes ?? [];
      const outside = gated.filter((x) => !req.body.scopes.includes(x));
      if (outside.length > 0) throw new InvalidRequest(`approval_scopes must be granted scopes: ${outside.join(', ')} is not in scopes`);
      const created = await audited(ctx, req, {
        zoneId: zone.id,
        action: 'grant.create',
        target: (g) => `grant:${g.id}`,
        detail: (g) => ({ client_id: g.client_id, resource: g.resource, scopes: g.scopes }),
        run: async (c: PoolClient) => {
          const application = await findApplication(c, req.body.application);
          if (!application || application.disabled_at) throw new NotFound(`application '${req.body.application}' does not exist in zone '${zone.slug}'`);
          const resource = await findResource(c, req.body.resource);
          if (!resource) throw new NotFound(`resource '${req.body.resource}' does not exist in zone '${zone.slug}'`);
          return insertGrant(c, zone.id, {
            applicationId: application.id,
            resourceId: resource.id,
            scopes: req.body.scopes,
            roles: req.body.roles ?? [],
            approvalScopes: gated,
            maxTtlSeconds: req.body.max_ttl_seconds ?? 900,
          }).catch((e) => mapDbError(e, `application '${application.client_id}' already has a grant on '${resource.identifier}'`));
        },
      });
      return reply.code(201).send(created);
    },
  );

  app.get<{ Params: { zone: string } }>('/v1/zones/:zone/grants', { schema: { params: zoneParam, response: { 200: list(grantOut) } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'read', zone.id);
    return { items: await withZone(ctx.deps.pool, zone.id, listGrants) };
  });

  app.delete<{ Params: { zone: string; grant: string } }>('/v1/zones/:zone/grants/:grant', { schema: { params: zoneAndId('grant'), response: { 200: grantOut } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'write', zone.id);
    return audited(ctx, req, {
      zoneId: zone.id,
      action: 'grant.delete',
      target: (g) => `grant:${g.id}`,
      run: async (c: PoolClient) => {
        const g = await deleteGrant(c, req.params.grant);
        if (!g) throw new NotFound(`grant '${req.params.grant}' does not exist in zone '${zone.slug}'`);
        return g;
      },
    });
  });
}
