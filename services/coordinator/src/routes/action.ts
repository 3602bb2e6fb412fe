// An action route of the coordinator (R-CO-1): `POST …/:id/<verb>` without a body, changing one session or edge
// through mutate(). The row must be one the caller may see before the change looks at it, so another application's
// row answers as an unknown one (confine.ts) and no refusal of the change itself tells anything about it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PoolClient } from '@caracal/db';
import { zoneOf, type Caller } from '../auth/authenticate.js';
import type { CoordinatorContext } from '../context.js';
import { mutate, type Outcome } from '../sessions/mutate.js';
import { idParams, noBody, zoneQuery, type ById } from './schemas.js';

type Step<T> = (c: PoolClient, caller: Caller, id: string) => Promise<T>;

export interface ActionRoute {
  path: string;
  /** The audit action (`agent_session.end`, `delegation.decline`, …). */
  action: string;
  out: object;
  visible: Step<unknown>;
  run: Step<Outcome>;
}

export function actionRoute(app: FastifyInstance, ctx: CoordinatorContext, a: ActionRoute): void {
  app.post<ById & { Body: Record<string, never> | null }>(
    a.path,
    { schema: { params: idParams, querystring: zoneQuery, body: noBody, response: { 200: a.out } } },
    (req: FastifyRequest<ById>, reply: FastifyReply) =>
      mutate(ctx, req, reply, zoneOf(req, req.query.zone_id), {
        action: a.action,
        status: 200,
        run: async (c) => {
          await a.visible(c, req.caller!, req.params.id);
          return a.run(c, req.caller!, req.params.id);
        },
      }),
  );
}
