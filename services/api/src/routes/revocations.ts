// Revocation in one call (R-STS-6): durable in Postgres, announced on `caracal.sessions.revoke` through the outbox
// written in the same transaction (R-STR-5).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { withZone, type PoolClient } from '@caracal/db';
import { NotFound } from '@caracal/service-kit';
import { revocationFields, STREAMS } from '@caracal/streams';
import { authorize } from '../auth/admin-auth.js';
import { audited, type ApiContext } from '../context.js';
import { insertRevocation, listRevocations, markRevoked, type RevocationTarget } from '../repos/revocations.js';
import { resolveZone } from '../repos/zones.js';
import { list, zoneAndId, zoneParam } from './schemas.js';

const revocationOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    zone_id: { type: 'string' },
    target_type: { type: 'string' },
    target_id: { type: 'string' },
    reason: { type: ['string', 'null'] },
    revoked_by: { type: 'string' },
    revoked_at: { type: 'string', format: 'date-time' },
    created: { type: 'boolean' },
    /** Agent sessions ended and delegations revoked with the target (empty for other targets). */
    sessions_ended: { type: 'array', items: { type: 'string' } },
    delegations_revoked: { type: 'array', items: { type: 'string' } },
  },
} as const;

const TARGETS = ['authority_session', 'agent_session', 'delegation_edge', 'application'] as const;

async function revoke(ctx: ApiContext, req: FastifyRequest, zoneRef: string, type: RevocationTarget, targetId: string, reason: string | null) {
  const zone = await resolveZone(ctx.deps.pool, zoneRef);
  const admin = authorize(req, 'write', zone.id);
  const result = await audited(ctx, req, {
    zoneId: zone.id,
    action: 'revocation.create',
    target: () => `${type}:${targetId}`,
    detail: (r) => ({ created: r.created, reason, sessions_ended: r.cut.sessions.length, delegations_revoked: r.cut.delegations.length }),
    run: async (c: PoolClient) => {
      const cut = await markRevoked(c, type, targetId);
      if (!cut) throw new NotFound(`${type.replace('_', ' ')} '${targetId}' does not exist in zone '${zone.slug}'`);
      return { cut, ...(await insertRevocation(c, zone.id, type, targetId, cut.sessions, reason, admin.name)) };
    },
    announce: (r) => r.all.map((row) => ({ stream: STREAMS.sessionsRevoke, fields: revocationFields(row) })),
  });
  await ctx.emit({ zone_id: zone.id, type: 'lineage.revoked', decision: 'deny', reason: reason ?? 'revoked', request_id: req.id, subject: `${type}:${targetId}`, data: { target_type: type, target_id: targetId, created: result.created, revoked_by: admin.name } });
  return { ...result.row, created: result.created, sessions_ended: result.cut.sessions, delegations_revoked: result.cut.delegations };
}

export function revocationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { zone: string }; Body: { target_type: RevocationTarget; target_id: string; reason?: string } }>(
    '/v1/zones/:zone/revocations',
    {
      schema: {
        params: zoneParam,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['target_type', 'target_id'],
          properties: { target_type: { type: 'string', enum: TARGETS }, target_id: { type: 'string', format: 'uuid' }, reason: { type: 'string', maxLength: 500 } },
        },
        response: { 200: revocationOut },
      },
    },
    async (req) => revoke(ctx, req, req.params.zone, req.body.target_type, req.body.target_id, req.body.reason ?? null),
  );

  app.post<{ Params: { zone: string; session: string }; Body: { reason?: string } | undefined }>(
    '/v1/zones/:zone/sessions/:session/revoke',
    {
      schema: {
        params: zoneAndId('session'),
        body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } },
        response: { 200: revocationOut },
      },
    },
    async (req) => revoke(ctx, req, req.params.zone, 'authority_session', req.params.session, req.body?.reason ?? null),
  );

  app.get<{ Params: { zone: string } }>('/v1/zones/:zone/revocations', { schema: { params: zoneParam, response: { 200: list(revocationOut) } } }, async (req) => {
    const zone = await resolveZone(ctx.deps.pool, req.params.zone);
    authorize(req, 'read', zone.id);
    return { items: await withZone(ctx.deps.pool, zone.id, (c) => listRevocations(c, 500)) };
  });

  app.get<{ Params: { zone: string } }>(
    '/v1/zones/:zone/sessions',
    {
      schema: {
        params: zoneParam,
        response: {
          200: list({
            type: 'object',
            properties: { id: { type: 'string' }, application_id: { type: 'string' }, issued_at: { type: 'string', format: 'date-time' }, expires_at: { type: 'string', format: 'date-time' }, revoked_at: { type: ['string', 'null'], format: 'date-time' } },
          }),
        },
      },
    },
    async (req) => {
      const zone = await resolveZone(ctx.deps.pool, req.params.zone);
      authorize(req, 'read', zone.id);
      const rows = await withZone(ctx.deps.pool, zone.id, (c) =>
        c.query('SELECT id, application_id, issued_at, expires_at, revoked_at FROM authority_sessions ORDER BY issued_at DESC LIMIT 500'),
      );
      return { items: rows.rows };
    },
  );
}
