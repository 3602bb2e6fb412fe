// Builds the api service (control plane: zones, applications, resources, grants, policies, admin tokens) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildServiceApp, createMetrics, postgresCheck, redisCheck, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { type GroupSpec } from '@caracal/streams';
import type { ApiConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [];

export async function buildApp(config: ApiConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const metrics = createMetrics('api');
  const app = buildServiceApp({
    service: 'api',
    logger,
    mode: config.CARACAL_MODE,
    metrics,
    metricsBearer: config.METRICS_BEARER,
    readiness: [postgresCheck(deps.pool), redisCheck(deps.redis)],
  });
  return { app };
}
