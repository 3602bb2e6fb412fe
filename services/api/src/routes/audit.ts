// The audit route group: the zone ledger (search, verify), the admin chain (search, verify) and the audit DLQ
// (list, replay) — R-AUD-3, R-AUD-4, R-AUD-5.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { auditAdminRoutes } from './audit-admin.js';
import { auditDlqRoutes } from './audit-dlq.js';
import { auditEventRoutes } from './audit-events.js';

export function auditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  auditEventRoutes(app, ctx);
  auditAdminRoutes(app, ctx);
  auditDlqRoutes(app, ctx);
}
