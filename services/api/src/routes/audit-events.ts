// The zone ledger through the API: search with cursor paging (R-AUD-4) and on-demand chain verification with the
// published head (R-AUD-3). Zone-confined tokens may read their own zone only.
import type { FastifyInstance } from 'fastify';
import { chainKey, withZone } from '@caracal/db';
import { verifyZone } from '@caracal/ledger';
import { ServiceUnavailable, TooManyRequests } from '@caracal/service-kit';
import { authorize } from '../auth/admin-auth.js';
import type { ApiContext } from '../context.js';
import { searchEvents, START } from '../repos/audit-events.js';
import { resolveZone } from '../repos/zones.js';
import { dependency } from './audit-dependency.js';
import { checkRange, decodeEventCursor, encodeEventCursor, parseLimit, parseTime } from './audit-query.js';
import { emptyBody, eventsQuery, ledgerRowOut, page, zoneReportOut } from './audit-schemas.js';
import { zoneParam } from './schemas.js';

interface EventsQuery {
  from?: string;
  to?: string;
  decision?: 'allow' | 'deny';
  request_id?: string;
  type?: string;
  limit?: string;
  cursor?: string;
}

export function auditEventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  // Parsed once: a malformed key is a startup problem of the config, not of a request.
  const key = ctx.config.AUDIT_HMAC_KEY ? chainKey(ctx.config.AUDIT_HMAC_KEY) : undefined;
  // A verification reads a whole chain: one per zone at a time, and a few at once per process, so read tokens
  // cannot queue up full-ledger scans.
  const verifying = new Set<string>();
  const MAX_VERIFYING = 2;

  app.get<{ Params: { zone: string }; Querystring: EventsQuery }>(
    '/v1/zones/:zone/audit/events',
    { schema: { params: zoneParam, querystring: eventsQuery, response: { 200: page(ledgerRowOut) } } },
    async (req) => {
      const q = req.query;
      const limit = parseLimit(q.limit, 1000, 100);
      const from = parseTime('from', q.from);
      const to = parseTime('to', q.to);
      checkRange(from, to);
      const after = decodeEventCursor(q.cursor) ?? START;
      const zone = await resolveZone(ctx.deps.pool, req.params.zone);
      authorize(req, 'read', zone.id);
      const filter = { from, to, decision: q.decision ?? null, requestId: q.request_id ?? null, type: q.type ?? null };
      const { rows, more } = await dependency(ctx, 'audit search', () => withZone(ctx.deps.pool, zone.id, (c) => searchEvents(c, zone.id, filter, after, limit)));
      const last = rows.at(-1);
      return { items: rows, next_cursor: more && last ? encodeEventCursor({ seq: last.chain_seq, eventId: last.event_id }) : null };
    },
  );

  app.post<{ Params: { zone: string } }>(
    '/v1/zones/:zone/audit/verify',
    { schema: { params: zoneParam, body: emptyBody, response: { 200: zoneReportOut } } },
    async (req) => {
      const zone = await resolveZone(ctx.deps.pool, req.params.zone);
      authorize(req, 'read', zone.id);
      if (!key) throw new ServiceUnavailable('AUDIT_HMAC_KEY is not configured: the ledger cannot be verified');
      if (verifying.has(zone.id)) throw new TooManyRequests(`zone '${zone.slug}' is being verified already`, 5);
      if (verifying.size >= MAX_VERIFYING) throw new TooManyRequests(`${MAX_VERIFYING} verifications are running already`, 5);
      verifying.add(zone.id);
      try {
        // The report says ok or not; a dependency failure is a 503, never a report of a chain read half-way.
        return await dependency(ctx, 'audit verification', () => verifyZone({ pool: ctx.deps.pool, redis: ctx.deps.redis, keys: ctx.deps.keys, key }, zone.id));
      } finally {
        verifying.delete(zone.id);
      }
    },
  );
}
