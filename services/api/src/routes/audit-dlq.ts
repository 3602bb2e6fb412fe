// The audit DLQ through the API (R-AUD-4): list what was dead-lettered and why, and replay entries onto the audit
// stream. The DLQ spans every zone, so only global tokens may use it; a replay is an audited mutation (R-AUD-5).
import type { FastifyInstance } from 'fastify';
import { InvalidRequest } from '@caracal/service-kit';
import { STREAMS } from '@caracal/streams';
import { authorize } from '../auth/admin-auth.js';
import { audited, type ApiContext } from '../context.js';
import { listDlq, replayAll, replayIds } from '../repos/audit-dlq.js';
import { dependency } from './audit-dependency.js';
import { decodeStreamCursor, encodeStreamCursor, parseLimit } from './audit-query.js';
import { dlqItemOut, dlqQuery, page, replayBody, replayOut } from './audit-schemas.js';

/** Replayed ids kept in the admin-audit row; a replay of a larger DLQ records the count and the first ids. */
const RECORDED_IDS = 500;

export function auditDlqRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { redis, keys } = ctx.deps;

  app.get<{ Querystring: { limit?: string; cursor?: string } }>('/v1/audit/dlq', { schema: { querystring: dlqQuery, response: { 200: page(dlqItemOut) } } }, async (req) => {
    authorize(req, 'read');
    const limit = parseLimit(req.query.limit, 500, 100);
    const after = decodeStreamCursor(req.query.cursor);
    const { items, next } = await dependency(ctx, 'the audit DLQ', () => listDlq(redis, keys, after, limit));
    return { items, next_cursor: next ? encodeStreamCursor(next) : null };
  });

  app.post<{ Body: { ids?: string[]; all?: true } }>('/v1/audit/dlq/replay', { schema: { body: replayBody, response: { 200: replayOut } } }, async (req) => {
    authorize(req, 'write');
    const { ids, all } = req.body;
    if ((ids === undefined) === (all === undefined)) throw new InvalidRequest('give exactly one of ids or all');
    return audited(ctx, req, {
      zoneId: null,
      action: 'audit.dlq.replay',
      target: () => `stream:${STREAMS.auditDlq}`,
      detail: (r) => ({
        requested: all ? 'all' : ids!.length,
        replayed_count: r.replayed.length,
        replayed: r.replayed.slice(0, RECORDED_IDS),
        skipped: r.skipped.slice(0, RECORDED_IDS),
      }),
      // Inside the audit transaction: the row records what was actually moved. A failure after some moves still
      // leaves them safe to repeat, because the ledger is idempotent on event id (R-AUD-2).
      run: () => dependency(ctx, 'the audit DLQ', () => (all ? replayAll(redis, keys) : replayIds(redis, keys, ids!))),
    });
  });
}
