// Resources (R-API-1): the upstream credential is sealed with the KEK on the way in and never returned.
import type { FastifyInstance } from 'fastify';
import { withZone, type PoolClient } from '@caracal/db';
import { InvalidRequest, NotFound, ServiceUnavailable } from '@caracal/service-kit';
import { checkUpstreamUrl } from '@caracal/ssrf-guard';
import { authorize } from '../auth/admin-auth.js';
import { audited, mapDbError, type ApiContext } from '../context.js';
import { deleteResource, findResource, insertResource, listResources, type ResourceInput } from '../repos/resources.js';
import { resolveZone } from '../repos/zones.js';
import { list, operationSchema, placementSchema, resourceOut, zoneParam } from './schemas.js';

const resParams = {
  type: 'object',
  additionalProperties: false,
  required: ['zone', 'resource'],
  properties: { ...zoneParam.properties, resource: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

/**
 * Refuses at creation what the gateway would refuse on every call (R-GW-3), with the SSRF guard's own reason:
 * other schemes, userinfo, metadata and link-local literals. The gateway still checks every resolved address.
 */
function checkUpstream(raw: string): void {
  const verdict = checkUpstreamUrl(raw);
  if (!verdict.ok) throw new InvalidRequest(`upstream_url is refused: ${verdict.reason}`);
  if (verdict.url.search || verdict.url.hash) throw new InvalidRequest('upstream_url must not have a query or fragment');
}

/** A credential becomes a header or query value at the gateway: CR, LF, NUL or any control character would break it. */
const CONTROL = /[\u0000-\u001f\u007f]/;
function checkCredential(value: string | undefined): void {
  if (value !== undefined && CONTROL.test(value)) throw new InvalidRequest('credential must not contain control characters (CR, LF, NUL, …)');
}

const HOP_OR_RESERVED = /^(host|connection|keep-alive|proxy-.*|te|trailer|transfer-encoding|upgrade|content-length|x-caracal-.*|x-forwarded-.*|forwarded)$/i;

export function resourceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { zone: string }; Body: ResourceInput }>(
    '/v1/zones/:zone/resources',
    {
      schema: {
        params: zoneParam,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['identifier', 'upstream_url'],
          properties: {
            identifier: { type: 'string', maxLength: 200, pattern: '^resource://[a-z0-9][a-z0-9._-]*$' },
            upstream_url: { type: 'string', minLength: 1, maxLength: 2048 },
            credential: { type: 'string', minLength: 1, maxLength: 8192 },
            auth_placement: placementSchema,
            operations: { type: 'array', maxItems: 256, items: operationSchema },
          },
        },
        response: { 201: resourceOut },
      },
    },
    async (req, reply) => {
      const zone = await resolveZone(ctx.deps.pool, req.params.zone);
      authorize(req, 'write', zone.id);
      checkUpstream(req.body.upstream_url);
      checkCredential(req.body.credential);
      if (req.body.auth_placement && HOP_OR_RESERVED.test(req.body.auth_placement.name)) {
        throw new InvalidRequest(`auth_placement.name '${req.body.auth_placement.name}' is reserved`);
      }
      const kek = ctx.config.SECRET_STORE_KEK;
      if (!kek) throw new ServiceUnavailable('SECRET_STORE_KEK is not configured: credentials cannot be sealed');
      const created = await audited(ctx, req, {
        zoneId: zone.id,
        action: 'resource.create',
        target: (r) => `resource:${r.id}`,
        detail: (r) => ({ identifier: r.identifier, upstream_url: r.upstream_url, has_credential: r.has_credential }),
        run: (c: PoolClient) => insertResource(c, zone.id, req.body, kek).catch((e) => mapDbError(e, `resource '${req.body.identifier}' already exists`)),
      });
      return reply.code(201).send(created);
    },
  );

  app.get<{ Params: { zone: string } }>('/v1/zones/:zone/resources', { schema: { params: zoneParam, response: { 200: list(resourceOut) } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'read', zone.id);
    return { items: await withZone(ctx.deps.pool, zone.id, listResources) };
  });

  app.get<{ Params: { zone: string; resource: string } }>('/v1/zones/:zone/resources/:resource', { schema: { params: resParams, response: { 200: resourceOut } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'read', zone.id);
    const found = await withZone(ctx.deps.pool, zone.id, (c) => findResource(c, req.params.resource));
    if (!found) throw new NotFound(`resource '${req.params.resource}' does not exist in zone '${zone.slug}'`);
    return found;
  });

  app.delete<{ Params: { zone: string; resource: string } }>('/v1/zones/:zone/resources/:resource', { schema: { params: resParams, response: { 200: resourceOut } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'write', zone.id);
    return audited(ctx, req, {
      zoneId: zone.id,
      action: 'resource.delete',
      target: (r) => `resource:${r.id}`,
      run: async (c: PoolClient) => {
        const found = await findResource(c, req.params.resource);
        if (!found) throw new NotFound(`resource '${req.params.resource}' does not exist in zone '${zone.slug}'`);
        return deleteResource(c, found.id).catch((e) => mapDbError(e, `resource '${found.identifier}' has grants; delete them first`));
      },
    });
  });
}
