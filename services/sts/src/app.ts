// Builds the sts service (the sole issuer of mandates) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildServiceApp, createMetrics, groupsCheck, postgresCheck, redisCheck, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { STREAMS, type GroupSpec } from '@caracal/streams';
import type { StsConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [
  { stream: STREAMS.policyInvalidate, group: 'sts' },
  { stream: STREAMS.keysInvalidate, group: 'sts' },
];

export async function buildApp(config: StsConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const metrics = createMetrics('sts');
  const app = buildServiceApp({
    service: 'sts',
    logger,
    mode: config.CARACAL_MODE,
    metrics,
    metricsBearer: config.METRICS_BEARER,
    readiness: [postgresCheck(deps.pool), redisCheck(deps.redis), groupsCheck(deps.redis, deps.keys, GROUPS)],
  });
  return { app };
}
