// Builds the sts service (the sole issuer of mandates) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildStandardApp, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { STREAMS, type GroupSpec } from '@caracal/streams';
import type { StsConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [
  { stream: STREAMS.policyInvalidate, group: 'sts' },
  { stream: STREAMS.keysInvalidate, group: 'sts' },
];

export async function buildApp(config: StsConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const { app } = buildStandardApp({ service: 'sts', config, deps, logger, groups: GROUPS });
  return { app };
}
