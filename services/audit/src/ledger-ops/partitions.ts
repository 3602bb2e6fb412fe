// Monthly partitions (R-AUD-4): created ahead of need, and dropped whole once older than the retention period.
// Dropping goes through `audit_drop_partition`, which anchors each zone's chain first; a month whose hours have not
// all been exported (when export is on) is kept until they have.
import { withTransaction, type Pool } from '@caracal/db';

export interface PartitionPlan {
  created: string[];
  dropped: string[];
  kept: Array<{ partition: string; why: string }>;
}

const monthStart = (d: Date, add = 0) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1));
const day = (d: Date) => d.toISOString().slice(0, 10);

export async function ensureMonthsAhead(pool: Pool, now: Date, ahead = 2): Promise<string[]> {
  const names: string[] = [];
  for (let m = 0; m <= ahead; m++) {
    const res = await pool.query<{ name: string }>('SELECT caracal.audit_ensure_partition($1::date) AS name', [day(monthStart(now, m))]);
    names.push(res.rows[0]!.name);
  }
  return names;
}

/** Months that have a partition, oldest first. */
export async function partitionMonths(pool: Pool): Promise<Array<{ name: string; month: Date }>> {
  const res = await pool.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'caracal.audit_events'::regclass AND c.relname ~ '^audit_events_[0-9]{4}_[0-9]{2}$'`,
  );
  return res.rows
    .map((r) => {
      const [, y, m] = /_(\d{4})_(\d{2})$/.exec(r.relname)!;
      return { name: r.relname, month: new Date(Date.UTC(Number(y), Number(m) - 1, 1)) };
    })
    .sort((a, b) => a.month.getTime() - b.month.getTime());
}

/** Signs and publishes a zone's anchor off-box (the anchor mark); a failure keeps the partition. */
export type PublishAnchor = (zoneId: string, seq: number, contentSha256: string) => Promise<void>;

export interface RetentionOptions {
  pool: Pool;
  now: Date;
  keepMonths: number;
  /** With export on: the earliest hour any zone still has to export (null: not known yet); undefined: export off. */
  exportedThrough: Date | null | undefined;
  zones: readonly string[];
  publishAnchor: PublishAnchor;
}

/**
 * Drops one month in one transaction: the last row of each zone in it is read from the rows themselves, the
 * database drops the partition (and writes its anchors), the anchors are signed and published, then it commits.
 * If publishing fails nothing is dropped; an anchor row that does not match its signed mark is a break.
 */
async function dropMonth(o: RetentionOptions, p: { name: string; month: Date }, end: Date): Promise<'dropped' | 'kept'> {
  return withTransaction(o.pool, async (c) => {
    const anchors: Array<{ zone: string; seq: number; sha: string }> = [];
    for (const zone of o.zones) {
      await c.query("SELECT set_config('caracal.zone_id', $1, true)", [zone]);
      const r = await c.query<{ chain_seq: string; content_sha256: string }>(
        'SELECT chain_seq, content_sha256 FROM audit_events WHERE zone_id = $1 AND recorded_at >= $2 AND recorded_at < $3 ORDER BY chain_seq DESC LIMIT 1',
        [zone, p.month, end],
      );
      if (r.rows[0]) anchors.push({ zone, seq: Number(r.rows[0].chain_seq), sha: r.rows[0].content_sha256 });
    }
    const res = await c.query<{ dropped: boolean }>('SELECT caracal.audit_drop_partition($1::date, $2) AS dropped', [day(p.month), o.keepMonths]);
    if (!res.rows[0]?.dropped) return 'kept';
    for (const a of anchors) await o.publishAnchor(a.zone, a.seq, a.sha);
    return 'dropped';
  });
}

/** Drops every partition entirely older than `keepMonths` whole months, oldest first. */
export async function applyRetention(o: RetentionOptions): Promise<PartitionPlan> {
  const plan: PartitionPlan = { created: [], dropped: [], kept: [] };
  const limit = monthStart(o.now, -o.keepMonths);
  for (const p of await partitionMonths(o.pool)) {
    const end = monthStart(p.month, 1);
    if (end > limit) continue;
    if (o.exportedThrough !== undefined && (o.exportedThrough === null || o.exportedThrough < end)) {
      plan.kept.push({ partition: p.name, why: 'not every hour of it has been exported yet' });
      continue;
    }
    try {
      if ((await dropMonth(o, p, end)) === 'dropped') plan.dropped.push(p.name);
    } catch (err) {
      // The database's own floor (audit_retention_floor) may keep more months than AUDIT_RETENTION_MONTHS asks.
      if ((err as { code?: string }).code !== 'P0001') throw err;
      plan.kept.push({ partition: p.name, why: (err as Error).message });
      break;
    }
  }
  return plan;
}
