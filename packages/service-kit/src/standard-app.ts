// The app every service starts from: the frame plus the standard readiness ladder (Postgres as the service's
// role, Redis, its consumer groups, for audit producers `audit_evidence_lost`, for outbox relays
// `outbox_backlog_stale`), followed by any checks of the service's own (R-OPS-1).
import type { FastifyInstance } from 'fastify';
import type { Logger } from '@caracal/logging';
import type { OutboxRelay } from '@caracal/outbox';
import type { AuditEmitter, GroupSpec } from '@caracal/streams';
import { auditEvidenceCheck, serviceAuditProducer } from './audit.js';
import { buildServiceApp } from './build-service-app.js';
import type { ServiceDeps } from './connect.js';
import { createMetrics, registerAuditSpillMetrics, type ServiceMetrics } from './metrics.js';
import { outboxBacklogCheck, runOutboxRelay } from './outbox.js';
import type { ReadinessCheck } from './readiness.js';
import type { BaseConfig } from './service-config.js';
import { groupsCheck, postgresCheck, redisCheck } from './standard-checks.js';

export interface StandardAppOptions {
  service: string;
  config: BaseConfig;
  deps: ServiceDeps;
  logger: Logger;
  groups: readonly GroupSpec[];
  /**
   * The source name this service emits audit events as (R-AUD-1). Builds the emitter with its spill (which needs
   * AUDIT_SPILL_DIR in stable mode), its metrics and the `audit_evidence_lost` readiness check.
   */
  audit?: string;
  /** The service's outbox relay (R-STR-5): run with the app, its metrics exposed, `outbox_backlog_stale` past `staleAfterMs`. */
  outbox?: { relay: OutboxRelay; staleAfterMs: number };
  /** Checks after the standard ones, e.g. `revocation_snapshot_stale`. */
  readiness?: readonly ReadinessCheck[];
}

export interface StandardApp {
  app: FastifyInstance;
  metrics: ServiceMetrics;
  emit?: AuditEmitter;
}

export function buildStandardApp(opts: StandardAppOptions & { audit: string }): StandardApp & { emit: AuditEmitter };
export function buildStandardApp(opts: StandardAppOptions): StandardApp;
export function buildStandardApp(opts: StandardAppOptions): StandardApp {
  const { deps } = opts;
  // First, so a producer with nowhere to keep evidence refuses to start before anything else is built.
  const producer = opts.audit === undefined ? undefined : serviceAuditProducer(opts.audit, opts.config, deps, opts.logger);
  const metrics = createMetrics(opts.service);
  const ladder: ReadinessCheck[] = [postgresCheck(deps.pool), redisCheck(deps.redis)];
  if (opts.groups.length > 0) ladder.push(groupsCheck(deps.redis, deps.keys, opts.groups));
  if (producer) ladder.push(auditEvidenceCheck(producer.spill));
  if (opts.outbox) ladder.push(outboxBacklogCheck(opts.outbox.relay, opts.outbox.staleAfterMs));
  ladder.push(...(opts.readiness ?? []));
  const app = buildServiceApp({
    service: opts.service,
    logger: opts.logger,
    mode: opts.config.CARACAL_MODE,
    metrics,
    metricsBearer: opts.config.METRICS_BEARER,
    readiness: ladder,
  });
  if (opts.outbox) runOutboxRelay(app, metrics.registry, opts.outbox.relay);
  if (!producer) return { app, metrics };
  registerAuditSpillMetrics(metrics.registry, () => producer.spill.status());
  // Adoption of dead processes' spill files runs in the background; startup does not wait for it.
  app.addHook('onReady', async () => void producer.spill.start());
  app.addHook('onClose', async () => producer.spill.stop());
  return { app, metrics, emit: producer.emit };
}
