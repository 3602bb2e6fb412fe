// Builds the audit service (stream ingest into the per-zone hash-chained ledger) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildServiceApp, createMetrics, groupsCheck, postgresCheck, redisCheck, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { STREAMS, type GroupSpec } from '@caracal/streams';
import type { AuditConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [
  { stream: STREAMS.auditEvents, group: 'audit' },
];

export async function buildApp(config: AuditConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const metrics = createMetrics('audit');
  const app = buildServiceApp({
    service: 'audit',
    logger,
    mode: config.CARACAL_MODE,
    metrics,
    metricsBearer: config.METRICS_BEARER,
    readiness: [postgresCheck(deps.pool), redisCheck(deps.redis), groupsCheck(deps.redis, deps.keys, GROUPS)],
  });
  return { app };
}
