// Builds the coordinator service (agent sessions, delegations, invocations, idempotency, sweepers, outbox) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildServiceApp, createMetrics, postgresCheck, redisCheck, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { type GroupSpec } from '@caracal/streams';
import type { CoordinatorConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [];

export async function buildApp(config: CoordinatorConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const metrics = createMetrics('coordinator');
  const app = buildServiceApp({
    service: 'coordinator',
    logger,
    mode: config.CARACAL_MODE,
    metrics,
    metricsBearer: config.METRICS_BEARER,
    readiness: [postgresCheck(deps.pool), redisCheck(deps.redis)],
  });
  return { app };
}
