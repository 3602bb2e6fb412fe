// Configuration of the audit service, parsed once in main.ts (R-SHAPE-4, R-MODE-1, R-AUD-2..4).
import type { Env } from '@caracal/config';
import { baseSchema, loadServiceConfig } from '@caracal/service-kit';
import { z } from 'zod';

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const schema = baseSchema(9090).extend({
  /** Messages read per XREADGROUP; each zone's share of a read is one transaction. */
  AUDIT_BATCH_SIZE: int(1, 10_000, 1000),
  /** Reads handled at once: the next read is parsed while earlier ones commit (zones keep their order). */
  AUDIT_INFLIGHT_BATCHES: int(1, 16, 4),
  /** After a read of fewer than AUDIT_BATCH_SIZE events, wait this long (ms) before the next: live traffic is then
   * appended in groups of several events rather than one append per event. 0 reads again at once. */
  AUDIT_LINGER_MS: int(0, 1000, 50),
  /** Largest `data` field accepted; larger events go to the DLQ as `oversized`. */
  AUDIT_MAX_EVENT_BYTES: int(1024, 1024 * 1024, 64 * 1024),
  AUDIT_MAX_DELIVERIES: int(1, 100, 5),
  /** Pending entries of a consumer idle this long are taken over (a dead replica's, or our own failed ones). */
  AUDIT_RECLAIM_IDLE_MS: int(100, 3_600_000, 30_000),
  /** Tamper sweep period; the sweep also runs at startup. 0 disables the schedule (not the startup sweep). */
  AUDIT_SWEEP_INTERVAL_S: int(0, 7 * 86_400, 3600),
  /** Whole months kept before a monthly partition is dropped (R-AUD-4). */
  AUDIT_RETENTION_MONTHS: int(1, 1200, 13),
  /** Directory for the hourly Parquet/JSON Lines export; unset disables the export. */
  AUDIT_EXPORT_DIR: z.string().min(1).optional(),
  AUDIT_EXPORT_FORMATS: z
    .string()
    .default('parquet,jsonl')
    .transform((v, ctx) => {
      const items = v.split(',').map((s) => s.trim());
      const bad = items.find((s) => s !== 'parquet' && s !== 'jsonl');
      if (bad !== undefined || items.length === 0 || new Set(items).size !== items.length) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must list parquet and/or jsonl, comma-separated, without repeats' });
        return z.NEVER;
      }
      return items as Array<'parquet' | 'jsonl'>;
    }),
  /** How often the leader looks for complete hours to export and partitions to create or drop. */
  AUDIT_MAINTENANCE_INTERVAL_S: int(1, 86_400, 300),
  /** An hour is complete this long after it ends (covers commits still in flight at the boundary). */
  AUDIT_EXPORT_GRACE_S: int(0, 3600, 120),
  /**
   * The audit service serves no authorization request: its queries are ingest transactions that may wait on a
   * zone's append lock, partition DDL and hour exports, so its bound is longer than the request-path default.
   */
  PG_QUERY_TIMEOUT_MS: int(100, 600_000, 30_000),
});

export type AuditConfig = z.output<typeof schema>;

export const spec = {
  schema,
  stableRequired: [],
  // Without the key nothing can be verified or chained: the ledger refuses to start even in dev mode.
  refine: (c: AuditConfig) => (c.AUDIT_HMAC_KEY ? [] : ['AUDIT_HMAC_KEY: is required by the audit service (set AUDIT_HMAC_KEY_FILE)']),
};

export function loadConfig(env: Env): AuditConfig {
  return loadServiceConfig(spec, env);
}
