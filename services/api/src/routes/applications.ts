// Applications (R-API-1): the client secret is shown once, at creation or rotation, and never again.
import type { FastifyInstance } from 'fastify';
import { cutApplicationSessions, lockAgentGraph, withZone, type PoolClient } from '@caracal/db';
import { NotFound } from '@caracal/service-kit';
import { revocationFields, STREAMS } from '@caracal/streams';
import { authorize } from '../auth/admin-auth.js';
import { audited, mapDbError, type ApiContext } from '../context.js';
import { disableApplication, findApplication, insertApplication, listApplications, rotateSecret } from '../repos/applications.js';
import { insertRevocation } from '../repos/revocations.js';
import { resolveZone } from '../repos/zones.js';
import { applicationOut, applicationWithSecretOut, labelList, list, zoneParam } from './schemas.js';

const appParams = {
  type: 'object',
  additionalProperties: false,
  required: ['zone', 'app'],
  properties: { ...zoneParam.properties, app: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[a-z0-9_-]+$' } },
} as const;

type ZoneApp = { Params: { zone: string; app: string } };

export function applicationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { zone: string }; Body: { name: string; labels?: string[] } }>(
    '/v1/zones/:zone/applications',
    {
      schema: {
        params: zoneParam,
        body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, labels: labelList } },
        response: { 201: applicationWithSecretOut },
      },
    },
    async (req, reply) => {
      const zone = await resolveZone(ctx.deps.pool, req.params.zone);
      authorize(req, 'write', zone.id);
      const created = await audited(ctx, req, {
        zoneId: zone.id,
        action: 'application.create',
        target: (a) => `application:${a.id}`,
        detail: (a) => ({ client_id: a.client_id, name: a.name }),
        run: (c: PoolClient) => insertApplication(c, zone.id, req.body.name, req.body.labels ?? []).catch((e) => mapDbError(e, `application '${req.body.name}' already exists`)),
      });
      return reply.code(201).send(created);
    },
  );

  app.get<{ Params: { zone: string } }>('/v1/zones/:zone/applications', { schema: { params: zoneParam, response: { 200: list(applicationOut) } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'read', zone.id);
    return { items: await withZone(ctx.deps.pool, zone.id, listApplications) };
  });

  app.get<ZoneApp>('/v1/zones/:zone/applications/:app', { schema: { params: appParams, response: { 200: applicationOut } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'read', zone.id);
    const found = await withZone(ctx.deps.pool, zone.id, (c) => findApplication(c, req.params.app));
    if (!found) throw new NotFound(`application '${req.params.app}' does not exist in zone '${zone.slug}'`);
    return found;
  });

  app.post<ZoneApp>('/v1/zones/:zone/applications/:app/rotate-secret', { schema: { params: appParams, response: { 200: applicationWithSecretOut } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'write', zone.id);
    return audited(ctx, req, {
      zoneId: zone.id,
      action: 'application.rotate_secret',
      target: (a) => `application:${a.id}`,
      run: async (c: PoolClient) => {
        const found = await findApplication(c, req.params.app);
        const rotated = found && (await rotateSecret(c, found.id));
        if (!rotated) throw new NotFound(`application '${req.params.app}' does not exist or is disabled`);
        return rotated;
      },
    });
  });

  // Deleting disables: sessions and grants keep their history, and the application's lineage is revoked.
  app.delete<ZoneApp>('/v1/zones/:zone/applications/:app', { schema: { params: appParams, response: { 200: applicationOut } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    const admin = authorize(req, 'write', zone.id);
    const disabled = await audited(ctx, req, {
      zoneId: zone.id,
      action: 'application.disable',
      target: (r) => `application:${r.row.id}`,
      detail: (r) => ({ agent_sessions_revoked: r.cut.sessions.length, delegations_revoked: r.cut.edges.length }),
      run: async (c: PoolClient) => {
        await lockAgentGraph(c);
        const found = await findApplication(c, req.params.app);
        const row = found && (await disableApplication(c, found.id));
        if (!row) throw new NotFound(`application '${req.params.app}' does not exist or is already disabled`);
        // Its agent sessions are revoked with everything below them, and what it delegated to other applications'
        // sessions is revoked: each session is recorded, so every mandate acting for or delegated from one dies.
        const cut = await cutApplicationSessions(c, row.id);
        const records = await insertRevocation(c, zone.id, 'application', row.id, cut.sessions, 'application disabled', admin.name);
        return { row, cut, records: records.all };
      },
      announce: (r) => r.records.map((row) => ({ stream: STREAMS.sessionsRevoke, fields: revocationFields(row) })),
    });
    return disabled.row;
  });
}
