// Builds the gateway service (reverse proxy enforcing mandates per request) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildStandardApp, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { STREAMS, type GroupSpec } from '@caracal/streams';
import type { GatewayConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [
  { stream: STREAMS.sessionsRevoke, group: 'gateway' },
  { stream: STREAMS.keysInvalidate, group: 'gateway' },
];

export async function buildApp(config: GatewayConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const { app } = buildStandardApp({ service: 'gateway', config, deps, logger, groups: GROUPS });
  return { app };
}
