// Every refusal is audited (R-STS-7) in the zone the request revealed — but only in a zone that exists, so a
// forged zone claim cannot make up chains.
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceError } from '@caracal/service-kit';
import type { StsContext } from './context.js';
import { OAuthError } from './token/oauth-errors.js';

export function zoneDirectory(ctx: StsContext, ttlMs = 30_000) {
  let known = new Set<string>();
  let loadedAt = 0;
  return async (zoneId: string): Promise<boolean> => {
    if (known.has(zoneId) && Date.now() - loadedAt < ttlMs) return true;
    const rows = await ctx.deps.pool.query<{ id: string }>('SELECT id FROM zones WHERE disabled_at IS NULL');
    known = new Set(rows.rows.map((r) => r.id));
    loadedAt = Date.now();
    return known.has(zoneId);
  };
}

export function auditDenials(app: FastifyInstance, ctx: StsContext, type: string): void {
  const exists = zoneDirectory(ctx);
  app.addHook('onError', async (req: FastifyRequest, _reply, err: FastifyError) => {
    const zone = req.auditZone;
    if (!zone) return;
    const reason = err instanceof OAuthError ? err.reason : err instanceof ServiceError ? err.error : 'server_error';
    try {
      if (!(await exists(zone))) return;
      await ctx.emit({ zone_id: zone, type, decision: 'deny', reason, request_id: req.id, ...req.auditDetail, data: { status: err.statusCode ?? 500 } });
    } catch (e) {
      ctx.logger.warn({ err: { message: (e as Error).message } }, 'could not audit a denial');
    }
  });
}
