// Builds the coordinator service (agent sessions, delegations, invocations, idempotency, sweepers, outbox) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildStandardApp, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { type GroupSpec } from '@caracal/streams';
import type { CoordinatorConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [];

export async function buildApp(config: CoordinatorConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const { app } = buildStandardApp({ service: 'coordinator', config, deps, logger, groups: GROUPS });
  return { app };
}
