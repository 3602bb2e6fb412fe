// The audit service's own metrics (R-OPS-1), on the app's registry: ingest, DLQ, tamper sweep, retention, export,
// partition statistics.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface AuditMetrics {
  appended: Counter;
  appends: Counter<'path'>;
  duplicates: Counter;
  deadLettered: Counter<'reason'>;
  conflicts: Counter;
  batchSeconds: Gauge;
  sweepRows: Gauge;
  sweepBreaks: Gauge<'zone'>;
  sweepLastSuccess: Gauge;
  exportedHours: Counter;
  partitionsDropped: Counter;
  partitionsAnalyzed: Counter;
}

export function auditMetrics(registry: Registry): AuditMetrics {
  const r = [registry];
  return {
    appended: new Counter({ name: 'caracal_audit_events_appended_total', help: 'Events appended to a zone chain', registers: r }),
    appends: new Counter({
      name: 'caracal_audit_appends_total',
      help: 'Zone appends committed, by path: one_statement (from the tip this process left) or two_step (tip read under the lock)',
      labelNames: ['path'],
      registers: r,
    }),
    duplicates: new Counter({ name: 'caracal_audit_events_duplicate_total', help: 'Redelivered events already in the ledger with the same content', registers: r }),
    deadLettered: new Counter({ name: 'caracal_audit_events_dead_lettered_total', help: 'Messages moved to the audit DLQ, by reason', labelNames: ['reason'], registers: r }),
    conflicts: new Counter({ name: 'caracal_audit_event_id_conflicts_total', help: 'Events whose id is already in the ledger with different content (alert)', registers: r }),
    batchSeconds: new Gauge({ name: 'caracal_audit_last_batch_seconds', help: 'Duration of the last committed ingest batch', registers: r }),
    sweepRows: new Gauge({ name: 'caracal_audit_sweep_rows_checked', help: 'Rows checked by the last tamper sweep', registers: r }),
    sweepBreaks: new Gauge({ name: 'caracal_audit_chain_breaks', help: 'Breaks found by the last tamper sweep, per zone', labelNames: ['zone'], registers: r }),
    sweepLastSuccess: new Gauge({ name: 'caracal_audit_sweep_last_completed_timestamp_seconds', help: 'When the last tamper sweep completed', registers: r }),
    exportedHours: new Counter({ name: 'caracal_audit_exported_hours_total', help: 'Zone-hours exported', registers: r }),
    partitionsDropped: new Counter({ name: 'caracal_audit_partitions_dropped_total', help: 'Monthly partitions dropped by retention', registers: r }),
    partitionsAnalyzed: new Counter({ name: 'caracal_audit_partitions_analyzed_total', help: 'Partitions whose planner statistics ingest refreshed as rows arrived', registers: r }),
  };
}
