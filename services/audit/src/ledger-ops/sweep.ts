// The tamper sweep (R-AUD-3): every zone's chain re-verified at startup and on a schedule. A sweep that cannot
// read some zone (Redis or Postgres not yet answering) is retried with backoff until it completes: unverified is
// not intact, but it is also not a verdict. Only a completed sweep is kept for `/ready` and the metrics; breaks
// are logged with zone, sequence and kind.
import { headSignatureValid, readHead, recordHeadMark, verifyZone, type VerifyDeps, type ZoneReport } from '@caracal/ledger';
import type { Logger } from '@caracal/logging';
import type { AuditMetrics } from '../metrics.js';
import type { ZoneDirectory } from '../ingest/zone-directory.js';

export interface SweepResult {
  completed_at: string;
  zones: number;
  checked: number;
  broken: ZoneReport[];
}

/** What one attempt could not read; retried, never kept as a result. */
export class SweepIncomplete extends Error {
  constructor(readonly failed: Array<{ zone_id: string; error: string }>) {
    super(`tamper sweep could not verify ${failed.length} zone(s)`);
  }
}

export interface SweepOptions {
  /** One zone's verification; the ledger's own by default (tests slow it down to watch /ready). */
  verify?: (deps: VerifyDeps, zoneId: string) => Promise<ZoneReport>;
  sleep?: (ms: number) => Promise<void>;
  /** Backoff between attempts: doubles from `minMs` up to `maxMs`. */
  retry?: { minMs: number; maxMs: number };
}

export class TamperSweep {
  private last: SweepResult | undefined;
  private running: Promise<SweepResult> | undefined;
  private stopped = false;
  private readonly verify: NonNullable<SweepOptions['verify']>;
  private readonly sleep: NonNullable<SweepOptions['sleep']>;
  private readonly retry: NonNullable<SweepOptions['retry']>;

  constructor(
    private readonly deps: VerifyDeps,
    private readonly zones: ZoneDirectory,
    private readonly metrics: AuditMetrics,
    private readonly logger: Logger,
    opts: SweepOptions = {},
  ) {
    this.verify = opts.verify ?? verifyZone;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms).unref()));
    this.retry = opts.retry ?? { minMs: 250, maxMs: 10_000 };
  }

  /** The last completed sweep; undefined until the first one (the startup sweep) has completed. */
  get result(): SweepResult | undefined {
    return this.last;
  }

  /** True while a sweep (including its retries) is in progress. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Runs one sweep, retried until it completes (or joins the one in progress). */
  run(): Promise<SweepResult> {
    this.running ??= this.untilComplete().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Ends the retries of a sweep in progress (service shutdown). */
  stop(): void {
    this.stopped = true;
  }

  private async untilComplete(): Promise<SweepResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt();
      } catch (err) {
        if (this.stopped) throw err;
        const wait = Math.min(this.retry.minMs * 2 ** attempt, this.retry.maxMs);
        const log = attempt === 0 ? this.logger.warn.bind(this.logger) : this.logger.debug.bind(this.logger);
        log({ alert: 'audit_chain_unverified', err: { message: (err as Error).message }, retry_in_ms: wait }, 'tamper sweep incomplete; retrying');
        await this.sleep(wait);
      }
    }
  }

  private async attempt(): Promise<SweepResult> {
    const zones = await this.zones.all();
    const result: SweepResult = { completed_at: '', zones: zones.length, checked: 0, broken: [] };
    const failed: SweepIncomplete['failed'] = [];
    const breaks = new Map<string, number>();
    for (const zone of zones) {
      let report: ZoneReport;
      try {
        report = await this.verify(this.deps, zone);
        if (report.ok && report.published_head && !report.recorded_head) await this.adoptHead(zone);
      } catch (err) {
        failed.push({ zone_id: zone, error: (err as Error).message });
        continue;
      }
      result.checked += report.checked;
      breaks.set(zone, report.breaks.length + report.breaks_omitted);
      if (!report.ok) result.broken.push(report);
    }
    if (failed.length > 0) throw new SweepIncomplete(failed);
    result.completed_at = new Date().toISOString();
    this.metrics.sweepBreaks.reset();
    for (const [zone, n] of breaks) this.metrics.sweepBreaks.set({ zone }, n);
    for (const report of result.broken) {
      for (const b of report.breaks) this.logger.error({ alert: 'audit_chain_broken', zone_id: report.zone_id, seq: b.seq, kind: b.kind, detail: b.detail }, 'audit chain break');
    }
    this.metrics.sweepRows.set(result.checked);
    this.metrics.sweepLastSuccess.set(Date.now() / 1000);
    this.last = result;
    this.logger.info({ zones: result.zones, checked: result.checked, broken: result.broken.length }, 'tamper sweep completed');
    return result;
  }

  /**
   * A zone whose heads were published before they were also recorded in Postgres (migration 0012): its verified
   * head becomes the first record, so from now on its head key going missing is a break, not a warning.
   */
  private async adoptHead(zone: string): Promise<void> {
    const head = await readHead(this.deps.redis, this.deps.keys, zone);
    if (head && headSignatureValid(this.deps.key, head)) await recordHeadMark(this.deps.pool, head);
  }
}
