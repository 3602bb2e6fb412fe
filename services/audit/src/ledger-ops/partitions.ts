// Monthly partitions (R-AUD-4): created ahead of need, and dropped whole once older than the retention period.
// Dropping goes through `audit_drop_partition`, which anchors each zone's chain first; a month whose hours have not
// all been exported (when export is on) is kept until they have.
import type { Pool } from '@caracal/db';

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

/**
 * Drops every partition entirely older than `keepMonths` whole months. `exportedThrough` (when export is on)
 * is the earliest hour any zone still has to export: a month ending after it is kept.
 */
export async function applyRetention(pool: Pool, now: Date, keepMonths: number, exportedThrough: Date | null | undefined): Promise<PartitionPlan> {
  const plan: PartitionPlan = { created: [], dropped: [], kept: [] };
  const limit = monthStart(now, -keepMonths);
  for (const p of await partitionMonths(pool)) {
    const end = monthStart(p.month, 1);
    if (end > limit) continue;
    if (exportedThrough !== undefined && (exportedThrough === null || exportedThrough < end)) {
      plan.kept.push({ partition: p.name, why: 'not every hour of it has been exported yet' });
      continue;
    }
    const res = await pool.query<{ dropped: boolean }>('SELECT caracal.audit_drop_partition($1::date, $2) AS dropped', [day(p.month), keepMonths]);
    if (res.rows[0]?.dropped) plan.dropped.push(p.name);
  }
  return plan;
}
