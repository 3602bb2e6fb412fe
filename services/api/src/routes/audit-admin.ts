// The admin audit chain through the API (R-AUD-5): search with cursor paging and on-demand verification. The
// chain spans every zone, so only global tokens may read it.
import type { FastifyInstance } from 'fastify';
import { chainKey, readAdminAudit, verifyAdminChain, withTransaction } from '@caracal/db';
import { InvalidRequest, ServiceUnavailable, TooManyRequests } from '@caracal/service-kit';
import { authorize } from '../auth/admin-auth.js';
import type { ApiContext } from '../context.js';
import { dependency } from './audit-dependency.js';
import { adminEventsQuery, adminReportOut, adminRowOut } from './audit-admin-schemas.js';
import { checkRange, parseLimit, parseTime } from './audit-query.js';
import { page } from './audit-schemas.js';

interface AdminEventsQuery {
  from?: string;
  to?: string;
  action?: string;
  zone_id?: string;
  limit?: string;
  cursor?: string;
}

/** `a1.<seq>` in base64url, opaque to callers; only the canonical spelling is accepted. */
const encodeCursor = (seq: number) => Buffer.from(`a1.${seq}`, 'utf8').toString('base64url');

function decodeCursor(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const m = /^a1\.(\d{1,15})$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
  if (!m || encodeCursor(Number(m[1])) !== raw) throw new InvalidRequest('cursor is malformed; pass next_cursor from the previous page unchanged');
  return Number(m[1]);
}

export function auditAdminRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const key = ctx.config.AUDIT_HMAC_KEY ? chainKey(ctx.config.AUDIT_HMAC_KEY) : undefined;
  // A verification reads the whole chain: one at a time per process.
  let verifying = false;

  app.get<{ Querystring: AdminEventsQuery }>('/v1/audit/admin/events', { schema: { querystring: adminEventsQuery, response: { 200: page(adminRowOut) } } }, async (req) => {
    authorize(req, 'read');
    const q = req.query;
    const limit = parseLimit(q.limit, 1000, 100);
    const from = parseTime('from', q.from);
    const to = parseTime('to', q.to);
    checkRange(from, to);
    const after = decodeCursor(q.cursor);
    const filter = { from, to, action: q.action ?? null, zoneId: q.zone_id ?? null };
    const { rows, more } = await dependency(ctx, 'admin audit search', () => withTransaction(ctx.deps.pool, (c) => readAdminAudit(c, after, limit, filter)));
    const last = rows.at(-1);
    return { items: rows, next_cursor: more && last ? encodeCursor(last.seq) : null };
  });

  app.get('/v1/audit/admin/verify', { schema: { response: { 200: adminReportOut } } }, async (req) => {
    authorize(req, 'read');
    if (!key) throw new ServiceUnavailable('AUDIT_HMAC_KEY is not configured: the admin chain cannot be verified');
    if (verifying) throw new TooManyRequests('the admin chain is being verified already', 5);
    verifying = true;
    try {
      // One snapshot for the whole read, so rows appended meanwhile cannot look like a break.
      return await dependency(ctx, 'admin audit verification', () =>
        withTransaction(ctx.deps.pool, async (c) => {
          await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
          return verifyAdminChain(c, key);
        }),
      );
    } finally {
      verifying = false;
    }
  });
}
