// Planner statistics for the month partitions the ledger is appended to (migration 0023). Each append looks its
// event ids up in the zone; until a partition that started empty has statistics, the lookup reads every row of the
// zone, and autovacuum gathers them only on its own schedule. While events are appended this asks the database, at
// most once a second and never twice at once, to analyze any partition that has grown past a few hundred rows
// without statistics. A failure costs speed, not correctness: it is logged and asked again a second later.
import type { Pool } from '@caracal/db';
import type { Logger } from '@caracal/logging';
import type { Counter } from 'prom-client';

/** A partition without statistics is analyzed once it fills this many pages (256 kB, a few hundred rows). */
export const ANALYZE_MIN_PAGES = 32;
const EVERY_MS = 1000;

export interface StatisticsKeeper {
  /** Reports rows just appended; may start an analysis in the background (never awaited by the append). */
  appended(rows: number): void;
  /** Resolves once no analysis is running (service shutdown). */
  idle(): Promise<void>;
}

export function keepStatistics(pool: Pool, logger: Logger, analyzed: Counter, now: () => number = Date.now): StatisticsKeeper {
  let pending = 0;
  let last = -Infinity;
  let running: Promise<void> | undefined;
  return {
    appended(rows) {
      pending += rows;
      if (pending === 0 || running || now() - last < EVERY_MS) return;
      pending = 0;
      last = now();
      running = pool
        .query<{ name: string }>('SELECT name FROM caracal.audit_analyze_partitions($1) AS name', [ANALYZE_MIN_PAGES])
        .then((res) => {
          for (const { name } of res.rows) logger.info({ partition: name }, 'audit partition analyzed');
          analyzed.inc(res.rows.length);
        })
        .catch((err: Error) => logger.warn({ err: { message: err.message } }, 'audit partition statistics not refreshed'))
        .finally(() => {
          running = undefined;
        });
    },
    idle: () => running ?? Promise.resolve(),
  };
}
