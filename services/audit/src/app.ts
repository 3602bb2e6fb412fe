// Builds the audit service (stream ingest into the per-zone hash-chained ledger) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildStandardApp, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { STREAMS, type GroupSpec } from '@caracal/streams';
import type { AuditConfig } from './config.js';

export const GROUPS: readonly GroupSpec[] = [
  { stream: STREAMS.auditEvents, group: 'audit' },
];

export async function buildApp(config: AuditConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const { app } = buildStandardApp({ service: 'audit', config, deps, logger, groups: GROUPS });
  return { app };
}
