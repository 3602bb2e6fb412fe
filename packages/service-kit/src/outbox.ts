// The outbox relay of a service that writes outbox rows (api, coordinator; R-STR-5): its settings, its metrics,
// the `outbox_backlog_stale` readiness reason (R-OPS-1), and its start and stop with the app.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import type { Logger } from '@caracal/logging';
import { OutboxRelay, redisPublisher, type RelayCounts } from '@caracal/outbox';
import type { ServiceDeps } from './connect.js';
import type { ReadinessCheck } from './readiness.js';
import type { BaseConfig } from './service-config.js';

const int = (min: number, max: number) =>
  z.coerce.number().int('must be an integer').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

/** The relay's environment keys, for the config schema of each service that runs one. */
export const outboxKeys = {
  /** Events taken (and row-locked) per relay transaction. */
  OUTBOX_BATCH_SIZE: int(1, 10_000).default(100),
  /** Attempts refused by Redis or the signing after which an event is dead: never retried, counted, kept in the table. */
  OUTBOX_MAX_ATTEMPTS: int(1, 1000).default(20),
  /** Wait after the first failed attempt; doubled after each further one, up to OUTBOX_BACKOFF_MAX_MS. */
  OUTBOX_BACKOFF_BASE_MS: int(10, 3_600_000).default(1000),
  OUTBOX_BACKOFF_MAX_MS: int(10, 86_400_000).default(300_000),
  /** How often every zone's outbox is looked at; a request that committed messages also publishes its own at once. */
  OUTBOX_POLL_INTERVAL_MS: int(50, 3_600_000).default(1000),
  /**
   * The service is unready (`outbox_backlog_stale`) while an unpublished event is older than this, or while no relay
   * pass over every zone has completed for this long.
   */
  OUTBOX_STALE_AFTER_MS: int(1000, 86_400_000).default(60_000),
  /** Published events are deleted after this many seconds; dead ones stay. */
  OUTBOX_RETENTION_SECONDS: int(60, 31 * 86_400).default(86_400),
};

export type OutboxConfig = BaseConfig & { [K in keyof typeof outboxKeys]: z.output<(typeof outboxKeys)[K]> };

/** Checks across keys, for the service's `refine`. */
export function outboxProblems(c: OutboxConfig): string[] {
  return c.OUTBOX_BACKOFF_MAX_MS < c.OUTBOX_BACKOFF_BASE_MS ? ['OUTBOX_BACKOFF_MAX_MS: must be at least OUTBOX_BACKOFF_BASE_MS'] : [];
}

/** What a route needs after committing outbox rows: publish them before answering (what fails, the relay retries). */
export interface Outbox {
  flush: (zoneId: string, eventIds: readonly string[]) => Promise<void>;
}

/**
 * Without STREAMS_HMAC_KEY (dev mode only) nothing can be signed, so nothing is published: the relay logs why once,
 * events stay queued with no attempt counted, and their age shows on /metrics and in `outbox_backlog_stale`.
 */
export function createOutboxRelay(config: OutboxConfig, deps: ServiceDeps, logger: Logger): OutboxRelay {
  const key = config.STREAMS_HMAC_KEY;
  return new OutboxRelay({
    pool: deps.pool,
    publish: key ? redisPublisher(deps.redis, deps.keys, key) : { reason: 'STREAMS_HMAC_KEY is not set: outbox messages cannot be signed' },
    batchSize: config.OUTBOX_BATCH_SIZE,
    maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
    backoff: { baseMs: config.OUTBOX_BACKOFF_BASE_MS, maxMs: config.OUTBOX_BACKOFF_MAX_MS },
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
    retentionSeconds: config.OUTBOX_RETENTION_SECONDS,
    log: (level, msg, detail) => logger[level](detail, msg),
  });
}

export function outboxBacklogCheck(relay: OutboxRelay, staleAfterMs: number): ReadinessCheck {
  return {
    reason: 'outbox_backlog_stale',
    check: async () => {
      const why = relay.notPublishing();
      const because = why === undefined ? '' : ` (${why})`;
      const age = relay.backlogAgeMs();
      if (age > staleAfterMs) throw new Error(`the oldest unpublished outbox event is ${Math.round(age)} ms old${because}`);
      const since = relay.sinceFullPassMs();
      if (since > staleAfterMs) throw new Error(`no outbox relay pass has completed for ${Math.round(since)} ms`);
    },
  };
}

/** The relay's counts on the app's registry, read at every scrape. */
function registerOutboxMetrics(registry: Registry, relay: OutboxRelay): void {
  const perStream = (name: string, help: string, pick: (c: RelayCounts) => Map<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: ['stream'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [stream, n] of pick(relay.counts)) this.inc({ stream }, n);
      },
    });
  perStream('caracal_outbox_published_total', 'Outbox events published to their stream (and marked published) by this process', (c) => c.published);
  perStream('caracal_outbox_failed_attempts_total', 'Outbox publish attempts Redis or the signing refused, counted on the event (retried with backoff)', (c) => c.failed);
  perStream('caracal_outbox_dead_total', 'Outbox events marked dead by this process after OUTBOX_MAX_ATTEMPTS failed attempts', (c) => c.dead);
  new Gauge({
    name: 'caracal_outbox_backlog_oldest_age_seconds',
    help: 'Age of the oldest unpublished (not dead) outbox event, as of the last full relay pass plus the time since',
    registers: [registry],
    collect() {
      this.set(relay.backlogAgeMs() / 1000);
    },
  });
}

/** Runs the relay while the app runs, its counts on the app's registry. */
export function runOutboxRelay(app: FastifyInstance, registry: Registry, relay: OutboxRelay): void {
  registerOutboxMetrics(registry, relay);
  app.addHook('onReady', async () => relay.start());
  app.addHook('onClose', async () => relay.stop());
}
