// Approvals (R-STS-5): an approver (capability `approve`) decides pending step-up requests; each decision is
// audited on both chains and can be made once.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { withZone, type PoolClient } from '@caracal/db';
import { Conflict, NotFound } from '@caracal/service-kit';
import { authorize } from '../auth/admin-auth.js';
import { audited, type ApiContext } from '../context.js';
import { resolveZone } from '../repos/zones.js';
import { list, zoneAndId, zoneParam } from './schemas.js';

const approvalOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    zone_id: { type: 'string' },
    application_id: { type: 'string' },
    resource_id: { type: ['string', 'null'] },
    scopes: { type: 'array', items: { type: 'string' } },
    status: { type: 'string' },
    requested_at: { type: 'string', format: 'date-time' },
    expires_at: { type: 'string', format: 'date-time' },
    decided_at: { type: ['string', 'null'], format: 'date-time' },
    decided_by: { type: ['string', 'null'] },
    consumed_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;
const COLS = 'id, zone_id, application_id, resource_id, scopes, status, requested_at, expires_at, decided_at, decided_by, consumed_at';

async function decide(ctx: ApiContext, req: FastifyRequest<{ Params: { zone: string; approval: string } }>, verdict: 'approved' | 'rejected') {
  const zone = await resolveZone(ctx.deps.pool, req.params.zone);
  const admin = authorize(req, 'approve', zone.id);
  const row = await audited(ctx, req, {
    zoneId: zone.id,
    action: `approval.${verdict === 'approved' ? 'approve' : 'reject'}`,
    target: () => `approval:${req.params.approval}`,
    run: async (c: PoolClient) => {
      const res = await c.query(
        `UPDATE approvals SET status = $2, decided_at = now(), decided_by = $3
          WHERE id = $1 AND status = 'pending' AND expires_at > now() RETURNING ${COLS}`,
        [req.params.approval, verdict, admin.name],
      );
      if (res.rows[0]) return res.rows[0];
      const found = (await c.query('SELECT status, expires_at FROM approvals WHERE id = $1', [req.params.approval])).rows[0];
      if (!found) throw new NotFound(`approval '${req.params.approval}' does not exist in zone '${zone.slug}'`);
      throw new Conflict(found.status === 'pending' ? 'the approval has expired' : `the approval was already ${found.status}`);
    },
  });
  await ctx.emit({ zone_id: zone.id, type: `approval.${verdict}`, decision: verdict === 'approved' ? 'allow' : 'deny', reason: verdict, request_id: req.id, application_id: row.application_id, subject: `approval:${row.id}`, data: { scopes: row.scopes, decided_by: admin.name } });
  return row;
}

export function approvalRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { zone: string }; Querystring: { status?: string } }>(
    '/v1/zones/:zone/approvals',
    {
      schema: {
        params: zoneParam,
        querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['pending', 'approved', 'rejected', 'consumed', 'expired'] } } },
        response: { 200: list(approvalOut) },
      },
    },
    async (req) => {
      const zone = await resolveZone(ctx.deps.pool, req.params.zone);
      authorize(req, 'read', zone.id);
      const rows = await withZone(ctx.deps.pool, zone.id, (c) =>
        c.query(`SELECT ${COLS} FROM approvals WHERE ($1::text IS NULL OR status = $1) ORDER BY requested_at DESC LIMIT 500`, [req.query.status ?? null]),
      );
      return { items: rows.rows };
    },
  );
  for (const [verb, verdict] of [['approve', 'approved'], ['reject', 'rejected']] as const) {
    app.post<{ Params: { zone: string; approval: string } }>(`/v1/zones/:zone/approvals/:approval/${verb}`, { schema: { params: zoneAndId('approval'), response: { 200: approvalOut } } }, (req) =>
      decide(ctx, req, verdict),
    );
  }
}
