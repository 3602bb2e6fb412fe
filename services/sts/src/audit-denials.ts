// Every refusal is audited (R-STS-7). It is filed in the zone the request proved (a verified subject token, an
// existing client) and otherwise in the platform zone, never in a zone the request merely claims: an unsigned
// claim must not let anyone append to another zone's ledger (issue 8 item 3). Failed client authentication is
// its own event type, and carries the presented client id at most, never the secret.
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { PLATFORM_ZONE_ID } from '@caracal/db';
import { DenyError } from '@caracal/deny-reasons';
import { ServiceError } from '@caracal/service-kit';
import type { StsContext } from './context.js';
import { InvalidClient } from './token/oauth-errors.js';

export const CLIENT_AUTH_FAILED = 'client.auth_failed';

export function auditDenials(app: FastifyInstance, ctx: StsContext, type: string): void {
  app.addHook('onError', async (req: FastifyRequest, _reply, err: FastifyError) => {
    const reason = err instanceof DenyError ? err.reason : err instanceof ServiceError ? err.error : 'server_error';
    if (err instanceof DenyError && err.detail) req.log.info({ reason, detail: err.detail }, 'request refused');
    try {
      await ctx.emit({
        zone_id: req.auditZone ?? PLATFORM_ZONE_ID,
        type: err instanceof InvalidClient ? CLIENT_AUTH_FAILED : type,
        decision: 'deny',
        reason,
        request_id: req.id,
        ...req.auditDetail,
        data: { status: err.statusCode ?? 500, ...req.auditDecision },
      });
    } catch (e) {
      ctx.logger.warn({ err: { message: (e as Error).message } }, 'could not audit a denial');
    }
  });
}
