// The app every service starts from: the frame plus the standard readiness ladder (Postgres as the service's
// role, Redis, its consumer groups), followed by any checks of the service's own.
import type { FastifyInstance } from 'fastify';
import type { Logger } from '@caracal/logging';
import type { GroupSpec } from '@caracal/streams';
import { buildServiceApp } from './build-service-app.js';
import type { ServiceDeps } from './connect.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import type { ReadinessCheck } from './readiness.js';
import type { BaseConfig } from './service-config.js';
import { groupsCheck, postgresCheck, redisCheck } from './standard-checks.js';

export interface StandardAppOptions {
  service: string;
  config: BaseConfig;
  deps: ServiceDeps;
  logger: Logger;
  groups: readonly GroupSpec[];
  /** Checks after the standard ones, e.g. `audit_evidence_lost`. */
  readiness?: readonly ReadinessCheck[];
}

export function buildStandardApp(opts: StandardAppOptions): { app: FastifyInstance; metrics: ServiceMetrics } {
  const { deps } = opts;
  const metrics = createMetrics(opts.service);
  const ladder: ReadinessCheck[] = [postgresCheck(deps.pool), redisCheck(deps.redis)];
  if (opts.groups.length > 0) ladder.push(groupsCheck(deps.redis, deps.keys, opts.groups));
  ladder.push(...(opts.readiness ?? []));
  const app = buildServiceApp({
    service: opts.service,
    logger: opts.logger,
    mode: opts.config.CARACAL_MODE,
    metrics,
    metricsBearer: opts.config.METRICS_BEARER,
    readiness: ladder,
  });
  return { app, metrics };
}
