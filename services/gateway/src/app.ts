// Builds the gateway service (reverse proxy enforcing mandates per request) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildServiceApp, createMetrics, groupsCheck, postgresCheck, redisCheck, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { STREAMS, type GroupSpec } from '@caracal/streams';
import type { GatewayConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [
  { stream: STREAMS.sessionsRevoke, group: 'gateway' },
  { stream: STREAMS.keysInvalidate, group: 'gateway' },
];

export async function buildApp(config: GatewayConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const metrics = createMetrics('gateway');
  const app = buildServiceApp({
    service: 'gateway',
    logger,
    mode: config.CARACAL_MODE,
    metrics,
    metricsBearer: config.METRICS_BEARER,
    readiness: [postgresCheck(deps.pool), redisCheck(deps.redis), groupsCheck(deps.redis, deps.keys, GROUPS)],
  });
  return { app };
}
