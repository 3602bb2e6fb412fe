// The tamper sweep (R-AUD-3): every zone's chain re-verified at startup and on a schedule. The latest result is
// kept for `/ready` (reason `audit_chain_broken`) and the metrics; breaks are logged with zone, sequence and kind.
import { verifyZone, type VerifyDeps, type ZoneReport } from '@caracal/ledger';
import type { Logger } from '@caracal/logging';
import type { AuditMetrics } from '../metrics.js';
import type { ZoneDirectory } from '../ingest/zone-directory.js';

export interface SweepResult {
  completed_at: string;
  zones: number;
  checked: number;
  broken: ZoneReport[];
  /** Zones whose chain could not be read through to the end: unverified is not intact. */
  failed: Array<{ zone_id: string; error: string }>;
}

export class TamperSweep {
  private last: SweepResult | undefined;
  private running: Promise<SweepResult> | undefined;

  constructor(
    private readonly deps: VerifyDeps,
    private readonly zones: ZoneDirectory,
    private readonly metrics: AuditMetrics,
    private readonly logger: Logger,
  ) {}

  get result(): SweepResult | undefined {
    return this.last;
  }

  /** Runs one sweep (or joins the one in progress). */
  run(): Promise<SweepResult> {
    this.running ??= this.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweep(): Promise<SweepResult> {
    const zones = await this.zones.all();
    const result: SweepResult = { completed_at: '', zones: zones.length, checked: 0, broken: [], failed: [] };
    this.metrics.sweepBreaks.reset();
    for (const zone of zones) {
      let report: ZoneReport;
      try {
        report = await verifyZone(this.deps, zone);
      } catch (err) {
        const error = (err as Error).message;
        result.failed.push({ zone_id: zone, error });
        this.logger.error({ alert: 'audit_chain_unverified', zone_id: zone, err: { message: error } }, 'audit chain could not be verified');
        continue;
      }
      result.checked += report.checked;
      const breaks = report.breaks.length + report.breaks_omitted;
      this.metrics.sweepBreaks.set({ zone }, breaks);
      if (!report.ok) {
        result.broken.push(report);
        for (const b of report.breaks) this.logger.error({ alert: 'audit_chain_broken', zone_id: zone, seq: b.seq, kind: b.kind, detail: b.detail }, 'audit chain break');
      }
    }
    result.completed_at = new Date().toISOString();
    this.metrics.sweepRows.set(result.checked);
    this.metrics.sweepLastSuccess.set(Date.now() / 1000);
    this.last = result;
    this.logger.info({ zones: result.zones, checked: result.checked, broken: result.broken.length, failed: result.failed.length }, 'tamper sweep completed');
    return result;
  }
}
