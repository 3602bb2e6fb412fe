// /v1/agents (R-CO-1): start, list, get, heartbeat, suspend, resume, end and tree of agent sessions in one zone.
// Every mutation goes through mutate(): Idempotency-Key, admin-audit row before success, audit event after commit.
// A mandate reads and acts only on its own application's sessions; another's answers as an unknown one (confine.ts).
import type { FastifyInstance } from 'fastify';
import type { PoolClient } from '@caracal/db';
import { applicationOf, zoneOf } from '../auth/authenticate.js';
import { checkParent, readerOf, seesSession, visibleSession } from '../auth/confine.js';
import type { CoordinatorContext } from '../context.js';
import { end, heartbeat, resume, startSession, suspend } from '../sessions/lifecycle.js';
import { inZone, mutate, type Outcome } from '../sessions/mutate.js';
import { listSessions, sessionVisibleTo, subtree, type SessionStatus } from '../sessions/repo.js';
import { hiddenSessionJson, sessionJson, sessionOut, treeSessionOut } from '../sessions/view.js';
import { actionRoute } from './action.js';
import { cursorAt, limitOf, pageOf } from './paging.js';
import { idParams, pageOut, pageQuery, uuid, zoneQuery, type ById, type Zoned } from './schemas.js';

const STATUSES = ['active', 'suspended', 'ended', 'expired', 'revoked'] as const;

export function agentRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  app.post<Zoned & { Body: { application_id?: string; ttl_seconds: number; parent_id?: string } }>(
    '/v1/agents',
    {
      schema: {
        querystring: zoneQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['ttl_seconds'],
          properties: { application_id: uuid, ttl_seconds: { type: 'integer', minimum: 1, maximum: 86_400 }, parent_id: uuid },
        },
        response: { 201: sessionOut, 200: sessionOut },
      },
    },
    (req, reply) => {
      const zoneId = zoneOf(req, req.query.zone_id);
      const applicationId = applicationOf(req, req.body.application_id);
      return mutate(ctx, req, reply, zoneId, {
        action: 'agent_session.start',
        status: 201,
        run: async (c) => {
          await checkParent(c, req.caller!, req.body.parent_id);
          return startSession(c, { zoneId, applicationId, ttlSeconds: req.body.ttl_seconds, parentId: req.body.parent_id ?? null, fanoutLimit: ctx.config.AGENT_FANOUT_LIMIT });
        },
      });
    },
  );

  app.get<{ Querystring: { zone_id?: string; status?: SessionStatus; parent_id?: string; limit?: string; cursor?: string } }>(
    '/v1/agents',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { zone_id: uuid, status: { type: 'string', enum: STATUSES }, parent_id: uuid, ...pageQuery },
        },
        response: { 200: pageOut(sessionOut) },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = limitOf(q.limit);
      const applicationId = readerOf(req.caller!);
      const rows = await inZone(ctx, req, zoneOf(req, q.zone_id), async (c) => {
        const afterId = await cursorAt(q.cursor, (id) => sessionVisibleTo(c, id, applicationId));
        return listSessions(c, { status: q.status, parentId: q.parent_id, applicationId, afterId, limit });
      });
      return pageOf(rows, limit, sessionJson);
    },
  );

  app.get<ById>('/v1/agents/:id', { schema: { params: idParams, querystring: zoneQuery, response: { 200: sessionOut } } }, async (req) =>
    inZone(ctx, req, zoneOf(req, req.query.zone_id), async (c) => sessionJson(await visibleSession(c, req.caller!, req.params.id))),
  );

  app.get<ById>(
    '/v1/agents/:id/tree',
    { schema: { params: idParams, querystring: zoneQuery, response: { 200: { type: 'object', properties: { root: { type: 'string' }, items: { type: 'array', items: treeSessionOut } } } } } },
    async (req) =>
      inZone(ctx, req, zoneOf(req, req.query.zone_id), async (c) => {
        const caller = req.caller!;
        await visibleSession(c, caller, req.params.id);
        // Another application's session below the root (only the operator places one there) is shown reduced.
        const rows = await subtree(c, req.params.id);
        return { root: req.params.id, items: rows.map((r) => (seesSession(caller, r) ? sessionJson(r) : hiddenSessionJson(r))) };
      }),
  );

  const action = (verb: string, event: string, run: (c: PoolClient, id: string) => Promise<Outcome>, extraOut: Record<string, unknown> = {}) =>
    actionRoute(app, ctx, {
      path: `/v1/agents/:id/${verb}`,
      action: `agent_session.${event}`,
      out: { ...sessionOut, properties: { ...sessionOut.properties, ...extraOut } },
      visible: visibleSession,
      run: (c, _caller, id) => run(c, id),
    });
  action('heartbeat', 'heartbeat', heartbeat);
  action('suspend', 'suspend', suspend);
  action('resume', 'resume', resume);
  action('end', 'end', end, { descendants_ended: { type: 'array', items: { type: 'string' } }, delegations_revoked: { type: 'array', items: { type: 'string' } } });
}
