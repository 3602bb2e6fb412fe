// Builds the audit service (stream ingest into the per-zone hash-chained ledger, tamper sweep, DLQ, retention and
// export) from config and dependencies; used by main.ts and tests.
import { chainKey } from '@caracal/db';
import type { Logger } from '@caracal/logging';
import { buildStandardApp, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { STREAMS, StreamConsumer, type GroupSpec } from '@caracal/streams';
import type { AuditConfig } from './config.js';
import { createIngest } from './ingest/ingest.js';
import { trimAcknowledged } from './ingest/trim.js';
import { ZoneDirectory } from './ingest/zone-directory.js';
import { Leadership } from './ledger-ops/leader.js';
import { maintain } from './ledger-ops/maintenance.js';
import { TamperSweep, type SweepOptions } from './ledger-ops/sweep.js';
import { auditMetrics } from './metrics.js';

export const GROUP = 'audit';
export const GROUPS: readonly GroupSpec[] = [{ stream: STREAMS.auditEvents, group: GROUP }];

export interface AuditRunnable extends Runnable {
  sweep: TamperSweep;
  metricsBearer: string | undefined;
  consumer: StreamConsumer;
  /** One round of housekeeping now (partitions, export, retention); exposed for tests and operations. */
  maintain: () => ReturnType<typeof maintain>;
}

/** Adapters a test may replace; production uses the defaults. */
export interface AuditAdapters {
  sweep?: SweepOptions;
}

export async function buildApp(config: AuditConfig, deps: ServiceDeps, logger: Logger, adapters: AuditAdapters = {}): Promise<AuditRunnable> {
  const key = chainKey(config.AUDIT_HMAC_KEY!);
  const zones = new ZoneDirectory(deps.pool);
  // The readiness check reads the sweep, which needs the app's metrics registry: filled in just below.
  const late: { sweep?: TamperSweep } = {};
  const { app, metrics: base } = buildStandardApp({
    service: 'audit',
    config,
    deps,
    logger,
    groups: GROUPS,
    // Not ready until the startup sweep has completed (it is retried until it does), then as the last completed
    // sweep found the chains (R-AUD-3, R-OPS-1).
    readiness: [
      {
        reason: 'audit_chain_unverified',
        check: async () => {
          if (!late.sweep?.result) throw new Error('the startup tamper sweep has not completed');
        },
      },
      {
        reason: 'audit_chain_broken',
        check: async () => {
          const broken = late.sweep?.result?.broken ?? [];
          if (broken.length > 0) throw new Error(`tamper sweep found breaks in ${broken.length} zone(s)`);
        },
      },
    ],
  });
  const metrics = auditMetrics(base.registry);
  const sweep = (late.sweep = new TamperSweep({ pool: deps.pool, redis: deps.redis, keys: deps.keys, key }, zones, metrics, logger, adapters.sweep));
  let stopping = false;

  const ingest = createIngest({
    pool: deps.pool,
    redis: deps.redis,
    keys: deps.keys,
    key,
    hmacKeyHex: config.AUDIT_HMAC_KEY!,
    zones,
    metrics,
    logger,
    maxEventBytes: config.AUDIT_MAX_EVENT_BYTES,
    stopping: () => stopping,
    groupLimit: config.AUDIT_BATCH_SIZE,
  });
  const consumer = new StreamConsumer({
    redis: deps.redisBlocking,
    keys: deps.keys,
    stream: STREAMS.auditEvents,
    group: GROUP,
    // One consumer per process; on stop it hands what it still holds to `handover`, which the others take at once.
    consumer: deps.instance,
    // Every check (signature included) happens in the batch handler, which names the DLQ reason.
    verify: () => ({ ok: true }),
    handleBatch: ingest.handleBatch,
    maxDeliveries: config.AUDIT_MAX_DELIVERIES,
    reclaimIdleMs: config.AUDIT_RECLAIM_IDLE_MS,
    count: config.AUDIT_BATCH_SIZE,
    inFlight: config.AUDIT_INFLIGHT_BATCHES,
    lingerMs: config.AUDIT_LINGER_MS,
    hooks: {
      onDeadLettered: (m, reason) => logger.warn({ stream_id: m.id, reason }, 'audit message dead-lettered'),
      onReadError: (err) => logger.debug({ err: { message: (err as Error).message } }, 'audit stream read failed'),
      onHandedOver: (moved, left) => logger.info({ consumer: deps.instance, handed_over: moved, left_group: left }, 'audit consumer stopped'),
    },
  });

  const leader = new Leadership(deps.pool);
  const housekeeping = () => maintain({ pool: deps.pool, redis: deps.redis, keys: deps.keys, key, config, zones, leader, metrics, logger });
  const timers: NodeJS.Timeout[] = [];
  /** Runs `fn` every `ms` (never two at once); `now`: also once at once. */
  const every = (ms: number, what: string, fn: () => Promise<unknown>, now = true) => {
    let busy = false;
    const tick = () => {
      if (busy || stopping) return;
      busy = true;
      fn()
        .catch((err: Error) => logger.warn({ err: { message: err.message } }, `${what} failed; retrying on schedule`))
        .finally(() => (busy = false));
    };
    if (now) setImmediate(tick);
    if (ms > 0) timers.push(setInterval(tick, ms).unref());
  };

  app.addHook('onReady', async () => {
    consumer.start();
    every(config.AUDIT_SWEEP_INTERVAL_S * 1000, 'tamper sweep', () => sweep.run());
    every(config.AUDIT_MAINTENANCE_INTERVAL_S * 1000, 'ledger housekeeping', housekeeping);
    // Not at once: Redis may not be connected yet as the service starts (the trim would only fail and warn); the
    // first trim, 5 s in, finds what an earlier run acknowledged just as well.
    every(5000, 'stream trim', () => trimAcknowledged(deps.redis, deps.keys.key(STREAMS.auditEvents), GROUP), false);
  });

  return {
    app,
    sweep,
    metricsBearer: config.METRICS_BEARER,
    consumer,
    maintain: housekeeping,
    stop: async () => {
      stopping = true;
      sweep.stop();
      for (const t of timers) clearInterval(t);
      await consumer.stop();
      await ingest.close();
      await leader.release();
    },
  };
}
