// Every refusal of an authenticated or attempted caller is audited (R-CO-1 "every decision an audit event"), as the
// STS does (its audit-denials.ts): filed in the zone the request proved (a verified mandate, or a zone that was
// found to exist) and otherwise in the platform zone, never in a zone the request merely claims.
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { PLATFORM_ZONE_ID } from '@caracal/db';
import { ServiceError } from '@caracal/service-kit';
import type { CoordinatorContext } from './context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The zone this request has proven it acts in; denials are filed there. */
    provenZone?: string;
  }
}

export const DENIED = 'agent.session.denied';
export const DELEGATION_DENIED = 'delegation.denied';

export function auditDenials(app: FastifyInstance, ctx: CoordinatorContext): void {
  app.addHook('onError', async (req: FastifyRequest, _reply, err: FastifyError) => {
    const reason = err instanceof ServiceError ? err.error : err.validation ? 'invalid_request' : 'server_error';
    const caller = req.caller;
    try {
      await ctx.emit({
        zone_id: req.provenZone ?? PLATFORM_ZONE_ID,
        type: (req.routeOptions.url ?? req.url).startsWith('/v1/delegations') ? DELEGATION_DENIED : DENIED,
        decision: 'deny',
        reason,
        request_id: req.id,
        ...(caller ? { subject: caller.actor } : {}),
        ...(caller?.kind === 'mandate' ? { client_id: caller.clientId } : {}),
        data: { status: err.statusCode ?? 500, method: req.method, route: req.routeOptions.url ?? null },
      });
    } catch (e) {
      ctx.logger.warn({ err: { message: (e as Error).message } }, 'could not audit a denial');
    }
  });
}
