// /v1/delegations (R-CO-1): create, accept, list, get, revoke and traverse delegation edges between agent sessions
// of one zone. Every mutation goes through mutate(): Idempotency-Key, admin-audit row before success, audit event
// after commit.
import type { FastifyInstance } from 'fastify';
import { InvalidRequest } from '@caracal/service-kit';
import { zoneOf } from '../auth/authenticate.js';
import type { CoordinatorContext } from '../context.js';
import { acceptEdge, createEdge, findEdge, revokeEdge } from '../delegations/edges.js';
import { chainOf, descendantsOf, listEdges } from '../delegations/repo.js';
import { edgeJson, edgeOut } from '../delegations/view.js';
import { inZone, mutate } from '../sessions/mutate.js';
import { limitOf } from './agents.js';

const uuid = { type: 'string', format: 'uuid' } as const;
const zoneQuery = { type: 'object', additionalProperties: false, properties: { zone_id: uuid } } as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: uuid } } as const;
const noBody = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;
/** A scope as the grants spell it: printable ASCII without spaces (RFC 6749 §3.3 scope-token). */
const scope = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' } as const;
const listOut = { type: 'object', properties: { items: { type: 'array', items: edgeOut } } } as const;

type Zoned = { Querystring: { zone_id?: string } };
type ById = Zoned & { Params: { id: string } };
interface CreateBody {
  source_session_id: string;
  target_session_id: string;
  scopes: string[];
  ttl_seconds?: number;
  expires_at?: string;
  parent_edge_id?: string;
}

export function delegationRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  app.post<Zoned & { Body: CreateBody }>(
    '/v1/delegations',
    {
      schema: {
        querystring: zoneQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['source_session_id', 'target_session_id', 'scopes'],
          properties: {
            source_session_id: uuid,
            target_session_id: uuid,
            // Empty is refused here: an empty delegation is never read as unrestricted.
            scopes: { type: 'array', minItems: 1, maxItems: 100, items: scope },
            ttl_seconds: { type: 'integer', minimum: 1, maximum: 86_400 },
            expires_at: { type: 'string', format: 'date-time' },
            parent_edge_id: uuid,
          },
        },
        response: { 201: edgeOut, 200: edgeOut },
      },
    },
    (req, reply) => {
      const b = req.body;
      if ((b.ttl_seconds === undefined) === (b.expires_at === undefined)) throw new InvalidRequest('body: exactly one of ttl_seconds and expires_at is required');
      const zoneId = zoneOf(req, req.query.zone_id);
      return mutate(ctx, req, reply, zoneId, {
        action: 'delegation.create',
        status: 201,
        run: (c) =>
          createEdge(c, {
            zoneId,
            caller: req.caller!,
            sourceId: b.source_session_id,
            targetId: b.target_session_id,
            scopes: b.scopes,
            ttlSeconds: b.ttl_seconds,
            expiresAt: b.expires_at,
            parentEdgeId: b.parent_edge_id,
          }),
      });
    },
  );

  app.get<{ Querystring: { zone_id?: string; session_id?: string; limit?: string } }>(
    '/v1/delegations',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { zone_id: uuid, session_id: uuid, limit: { type: 'string', maxLength: 8 } } },
        response: { 200: listOut },
      },
    },
    async (req) => {
      const limit = limitOf(req.query.limit);
      const rows = await inZone(ctx, req, zoneOf(req, req.query.zone_id), (c) => listEdges(c, { sessionId: req.query.session_id, limit }));
      return { items: rows.map(edgeJson) };
    },
  );

  app.get<ById>('/v1/delegations/:id', { schema: { params: idParams, querystring: zoneQuery, response: { 200: edgeOut } } }, async (req) =>
    inZone(ctx, req, zoneOf(req, req.query.zone_id), async (c) => edgeJson(await findEdge(c, req.params.id))),
  );

  app.get<ById>(
    '/v1/delegations/:id/traverse',
    {
      schema: {
        params: idParams,
        querystring: zoneQuery,
        response: { 200: { type: 'object', properties: { id: { type: 'string' }, chain: { type: 'array', items: edgeOut }, subtree: { type: 'array', items: edgeOut } } } },
      },
    },
    async (req) =>
      inZone(ctx, req, zoneOf(req, req.query.zone_id), async (c) => {
        const edge = await findEdge(c, req.params.id);
        return { id: edge.id, chain: (await chainOf(c, edge)).map(edgeJson), subtree: (await descendantsOf(c, edge.id)).map(edgeJson) };
      }),
  );

  app.post<ById & { Body: Record<string, never> | null }>(
    '/v1/delegations/:id/accept',
    { schema: { params: idParams, querystring: zoneQuery, body: noBody, response: { 200: edgeOut } } },
    (req, reply) => mutate(ctx, req, reply, zoneOf(req, req.query.zone_id), { action: 'delegation.accept', status: 200, run: (c) => acceptEdge(c, req.caller!, req.params.id) }),
  );

  const revokedOut = { ...edgeOut, properties: { ...edgeOut.properties, revoked: { type: 'integer' }, descendants_revoked: { type: 'array', items: { type: 'string' } } } };
  app.post<ById & { Body: Record<string, never> | null }>(
    '/v1/delegations/:id/revoke',
    { schema: { params: idParams, querystring: zoneQuery, body: noBody, response: { 200: revokedOut } } },
    (req, reply) => mutate(ctx, req, reply, zoneOf(req, req.query.zone_id), { action: 'delegation.revoke', status: 200, run: (c) => revokeEdge(c, req.caller!, req.params.id) }),
  );
}
