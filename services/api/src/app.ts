// Builds the api service (control plane: zones, applications, resources, grants, policies, admin tokens) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildStandardApp, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { type GroupSpec } from '@caracal/streams';
import type { ApiConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [];

export async function buildApp(config: ApiConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const { app } = buildStandardApp({ service: 'api', config, deps, logger, groups: GROUPS });
  return { app };
}
