// /v1/agents (R-CO-1): start, list, get, heartbeat, suspend, resume, end and tree of agent sessions in one zone.
// Every mutation goes through mutate(): Idempotency-Key, admin-audit row before success, audit event after commit.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PoolClient } from '@caracal/db';
import { InvalidRequest } from '@caracal/service-kit';
import { applicationOf, zoneOf } from '../auth/authenticate.js';
import type { CoordinatorContext } from '../context.js';
import { end, findSession, heartbeat, resume, startSession, suspend } from '../sessions/lifecycle.js';
import { inZone, mutate, type Outcome } from '../sessions/mutate.js';
import { listSessions, subtree, type SessionStatus } from '../sessions/repo.js';
import { sessionJson, sessionOut } from '../sessions/view.js';

const uuid = { type: 'string', format: 'uuid' } as const;
const STATUSES = ['active', 'suspended', 'ended', 'expired', 'revoked'] as const;
/** zone_id is required with the coordinator token and optional with a mandate (zoneOf decides). */
const zoneQuery = { type: 'object', additionalProperties: false, properties: { zone_id: uuid } } as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: uuid } } as const;
/** Action routes take no body; an empty object is tolerated, anything in it is an unknown field. */
const noBody = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;
const listOut = { type: 'object', properties: { items: { type: 'array', items: sessionOut }, next_cursor: { type: ['string', 'null'] } } } as const;

type Zoned = { Querystring: { zone_id?: string } };
type ById = Zoned & { Params: { id: string } };

// The cursor is the last row's id; the query pages after that row's (created_at, id) at full precision.
const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
function decodeCursor(raw: string): string {
  const id = Buffer.from(raw, 'base64url').toString('utf8');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw new InvalidRequest('cursor: is not a cursor this service issued');
  return id;
}

/** Query strings are not coerced (ajv coerceTypes off), so the page size is parsed here. */
export function limitOf(raw: string | undefined): number {
  if (raw === undefined) return 100;
  const n = /^[0-9]{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 500)) throw new InvalidRequest('limit: must be an integer from 1 to 500');
  return n;
}

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
        run: (c) => startSession(c, { zoneId, applicationId, ttlSeconds: req.body.ttl_seconds, parentId: req.body.parent_id ?? null, fanoutLimit: ctx.config.AGENT_FANOUT_LIMIT }),
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
          properties: { zone_id: uuid, status: { type: 'string', enum: STATUSES }, parent_id: uuid, limit: { type: 'string', maxLength: 8 }, cursor: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: { 200: listOut },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = limitOf(q.limit);
      const afterId = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      const rows = await inZone(ctx, req, zoneOf(req, q.zone_id), (c) => listSessions(c, { status: q.status, parentId: q.parent_id, afterId, limit }));
      const last = rows.at(-1);
      return { items: rows.map(sessionJson), next_cursor: rows.length === limit && last ? encodeCursor(last.id) : null };
    },
  );

  app.get<ById>('/v1/agents/:id', { schema: { params: idParams, querystring: zoneQuery, response: { 200: sessionOut } } }, async (req) =>
    inZone(ctx, req, zoneOf(req, req.query.zone_id), async (c) => sessionJson(await findSession(c, req.params.id))),
  );

  app.get<ById>(
    '/v1/agents/:id/tree',
    { schema: { params: idParams, querystring: zoneQuery, response: { 200: { type: 'object', properties: { root: { type: 'string' }, items: { type: 'array', items: sessionOut } } } } } },
    async (req) =>
      inZone(ctx, req, zoneOf(req, req.query.zone_id), async (c) => {
        const rows = await subtree(c, req.params.id);
        if (rows.length === 0) await findSession(c, req.params.id);
        return { root: req.params.id, items: rows.map(sessionJson) };
      }),
  );

  const action = (name: string, verb: string, run: (c: PoolClient, id: string) => Promise<Outcome>, extraOut: Record<string, unknown> = {}) =>
    app.post<ById & { Body: Record<string, never> | null }>(
      `/v1/agents/:id/${name}`,
      { schema: { params: idParams, querystring: zoneQuery, body: noBody, response: { 200: { ...sessionOut, properties: { ...sessionOut.properties, ...extraOut } } } } },
      (req: FastifyRequest<ById>, reply: FastifyReply) => mutate(ctx, req, reply, zoneOf(req, req.query.zone_id), { action: `agent_session.${verb}`, status: 200, run: (c) => run(c, req.params.id) }),
    );
  action('heartbeat', 'heartbeat', heartbeat);
  action('suspend', 'suspend', suspend);
  action('resume', 'resume', resume);
  action('end', 'end', end, { descendants_ended: { type: 'array', items: { type: 'string' } }, delegations_revoked: { type: 'array', items: { type: 'string' } } });
}
