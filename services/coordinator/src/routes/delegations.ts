// /v1/delegations (R-CO-1): create, accept, decline, list, get, revoke and traverse delegation edges between agent
// sessions of one zone. Every mutation goes through mutate(): Idempotency-Key, admin-audit row before success, audit
// event after commit. A mandate reads and acts only on the edges from or to its own application's sessions; any
// other answers as an unknown one (confine.ts).
import type { FastifyInstance } from 'fastify';
import type { PoolClient } from '@caracal/db';
import { InvalidRequest } from '@caracal/service-kit';
import { zoneOf, type Caller } from '../auth/authenticate.js';
import { readerOf, visibleEdge, visibleEdges, visibleSession } from '../auth/confine.js';
import type { CoordinatorContext } from '../context.js';
import { acceptEdge, declineEdge } from '../delegations/consent.js';
import { createEdge, revokeEdge } from '../delegations/edges.js';
import { chainOf, descendantsOf, edgesVisibleTo, listEdges, type EdgeRow } from '../delegations/repo.js';
import { edgeJson, edgeOut, hiddenEdgeJson, traversedEdgeOut } from '../delegations/view.js';
import { inZone, mutate, type Outcome } from '../sessions/mutate.js';
import { actionRoute } from './action.js';
import { cursorAt, limitOf, pageOf } from './paging.js';
import { idParams, pageOut, pageQuery, uuid, zoneQuery, type ById, type Zoned } from './schemas.js';

/** A scope as the grants spell it: printable ASCII without spaces (RFC 6749 §3.3 scope-token). */
const scope = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' } as const;
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
        run: async (c) => {
          // A mandate delegates from its own sessions and below edges it holds; anything else reads as unknown. The
          // target may be another application's session: naming it is how a delegation across applications starts.
          await visibleSession(c, req.caller!, b.source_session_id);
          if (b.parent_edge_id !== undefined) await visibleEdge(c, req.caller!, b.parent_edge_id);
          return createEdge(c, {
            zoneId,
            caller: req.caller!,
            sourceId: b.source_session_id,
            targetId: b.target_session_id,
            scopes: b.scopes,
            ttlSeconds: b.ttl_seconds,
            expiresAt: b.expires_at,
            parentEdgeId: b.parent_edge_id,
          });
        },
      });
    },
  );

  app.get<{ Querystring: { zone_id?: string; session_id?: string; limit?: string; cursor?: string } }>(
    '/v1/delegations',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { zone_id: uuid, session_id: uuid, ...pageQuery } },
        response: { 200: pageOut(edgeOut) },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = limitOf(q.limit);
      const applicationId = readerOf(req.caller!);
      const rows = await inZone(ctx, req, zoneOf(req, q.zone_id), async (c) => {
        const afterId = await cursorAt(q.cursor, async (id) => (await edgesVisibleTo(c, [id], applicationId)).has(id));
        return listEdges(c, { sessionId: q.session_id, applicationId, afterId, limit });
      });
      return pageOf(rows, limit, edgeJson);
    },
  );

  app.get<ById>('/v1/delegations/:id', { schema: { params: idParams, querystring: zoneQuery, response: { 200: edgeOut } } }, async (req) =>
    inZone(ctx, req, zoneOf(req, req.query.zone_id), async (c) => edgeJson(await visibleEdge(c, req.caller!, req.params.id))),
  );

  app.get<ById>(
    '/v1/delegations/:id/traverse',
    {
      schema: {
        params: idParams,
        querystring: zoneQuery,
        response: { 200: { type: 'object', properties: { id: { type: 'string' }, chain: { type: 'array', items: traversedEdgeOut }, subtree: { type: 'array', items: traversedEdgeOut } } } },
      },
    },
    async (req) =>
      inZone(ctx, req, zoneOf(req, req.query.zone_id), async (c) => {
        const edge = await visibleEdge(c, req.caller!, req.params.id);
        const [chain, below] = [await chainOf(c, edge), await descendantsOf(c, edge.id)];
        // Edges of other applications above or below (neither end the caller's) are shown reduced (hiddenEdgeJson).
        const seen = await visibleEdges(c, req.caller!, [...chain, ...below].map((e) => e.id));
        const show = (e: EdgeRow) => (seen.has(e.id) ? edgeJson(e) : hiddenEdgeJson(e));
        return { id: edge.id, chain: chain.map(show), subtree: below.map(show) };
      }),
  );

  const action = (verb: 'accept' | 'decline' | 'revoke', out: object, run: (c: PoolClient, caller: Caller, id: string) => Promise<Outcome>) =>
    actionRoute(app, ctx, { path: `/v1/delegations/:id/${verb}`, action: `delegation.${verb}`, out, visible: visibleEdge, run });
  action('accept', edgeOut, acceptEdge);
  action('decline', edgeOut, declineEdge);
  action('revoke', { ...edgeOut, properties: { ...edgeOut.properties, revoked: { type: 'integer' }, descendants_revoked: { type: 'array', items: { type: 'string' } } } }, revokeEdge);
}
