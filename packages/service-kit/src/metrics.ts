// Prometheus metrics, one registry per app (no module-level globals), and the `/metrics` bearer check (R-OPS-1).
import { timingSafeEqual, createHash } from 'node:crypto';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SpillStatus } from '@caracal/streams';

export interface ServiceMetrics {
  registry: Registry;
  streamRejected: Counter<'stream' | 'reason'>;
  ready: Gauge;
}

export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    streamRejected: new Counter({
      name: 'caracal_stream_messages_rejected_total',
      help: 'Stream messages acknowledged and dropped because they were unsigned or badly signed',
      labelNames: ['stream', 'reason'],
      registers: [registry],
    }),
    ready: new Gauge({ name: 'caracal_ready', help: '1 when the readiness ladder passes', registers: [registry] }),
  };
}

/** The audit spill on the app's registry (R-AUD-1), read from the spill's own counts at every scrape. */
export function registerAuditSpillMetrics(registry: Registry, status: () => SpillStatus): void {
  new Gauge({
    name: 'caracal_audit_spill_events',
    help: 'Audit events kept in the local spill, waiting for Redis',
    registers: [registry],
    collect() {
      this.set(status().spilled);
    },
  });
  const counter = (name: string, help: string, read: (s: SpillStatus) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(status()));
      },
    });
  counter('caracal_audit_events_lost_total', 'Audit events that could not be kept (spill full or unwritable, corrupt spill lines)', (s) => s.lost);
  counter('caracal_audit_spill_replayed_total', 'Spilled audit events published after Redis came back', (s) => s.replayed);
}

/** Constant-time bearer comparison; both sides are hashed first so their lengths never leak. */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const a = createHash('sha256').update(header.slice(7)).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
