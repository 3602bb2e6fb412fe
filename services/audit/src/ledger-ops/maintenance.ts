// The leader's housekeeping loop (R-AUD-4): partitions ahead, hourly export, then retention — in that order, so
// a month is only dropped after its hours were exported. Followers only retry the election.
import type { KeyObject } from 'node:crypto';
import type { Pool } from '@caracal/db';
import { publishHead, signHead } from '@caracal/ledger';
import type { StreamKeys } from '@caracal/streams';
import type { Redis } from 'ioredis';
import type { Logger } from '@caracal/logging';
import type { AuditConfig } from '../config.js';
import type { ZoneDirectory } from '../ingest/zone-directory.js';
import type { AuditMetrics } from '../metrics.js';
import { exportedThrough, exportZone } from './hourly-export.js';
import type { Leadership } from './leader.js';
import { applyRetention, ensureMonthsAhead } from './partitions.js';

export interface MaintenanceDeps {
  pool: Pool;
  redis: Redis;
  keys: StreamKeys;
  key: KeyObject;
  config: AuditConfig;
  zones: ZoneDirectory;
  leader: Leadership;
  metrics: AuditMetrics;
  logger: Logger;
  now?: () => Date;
}

export async function maintain(d: MaintenanceDeps): Promise<{ leader: boolean; exportedHours: number; dropped: string[] }> {
  if (!(await d.leader.acquire())) return { leader: false, exportedHours: 0, dropped: [] };
  const now = (d.now ?? (() => new Date()))();
  await ensureMonthsAhead(d.pool, now);
  let exportedHours = 0;
  const dir = d.config.AUDIT_EXPORT_DIR;
  const zones = await d.zones.all();
  if (dir) {
    const o = { pool: d.pool, dir, formats: d.config.AUDIT_EXPORT_FORMATS, graceMs: d.config.AUDIT_EXPORT_GRACE_S * 1000 };
    for (const zone of zones) exportedHours += await exportZone(o, zone, now);
    d.metrics.exportedHours.inc(exportedHours);
  }
  const plan = await applyRetention({
    pool: d.pool,
    now,
    keepMonths: d.config.AUDIT_RETENTION_MONTHS,
    exportedThrough: dir ? exportedThrough(dir, zones) : undefined,
    zones,
    publishAnchor: (zone, seq, sha) => publishHead(d.redis, d.keys, signHead(d.key, { zone_id: zone, seq, content_sha256: sha, published_at: now.toISOString() }, 'anchor'), 'anchor'),
  });
  d.metrics.partitionsDropped.inc(plan.dropped.length);
  for (const k of plan.kept) d.logger.warn(k, 'partition past retention kept');
  if (plan.dropped.length > 0) d.logger.info({ dropped: plan.dropped }, 'audit partitions dropped by retention');
  return { leader: true, exportedHours, dropped: plan.dropped };
}
