// The gateway's revocation cache (R-GW-1): fed at once by `caracal.sessions.revoke` and converged by a periodic
// snapshot from Postgres. Revocations are permanent, so the set only grows; a stale snapshot makes the gateway
// unready and its requests 503 (fail closed).
import { withZone, type Pool } from '@caracal/db';
import type { Logger } from '@caracal/logging';

export interface RevocationCacheOptions {
  pool: Pool;
  logger: Logger;
  intervalMs: number;
  staleMs: number;
  now?: () => number;
}

export class RevocationCache {
  private readonly revoked = new Set<string>();
  private zones = new Set<string>();
  private lastSnapshot = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly now: () => number;

  constructor(private readonly o: RevocationCacheOptions) {
    this.now = o.now ?? Date.now;
  }

  add(targetId: string): void {
    this.revoked.add(targetId);
  }

  /** Whether the last snapshot saw this zone; zones are read anyway to walk their revocations. */
  hasZone(zoneId: string): boolean {
    return this.zones.has(zoneId);
  }

  isRevoked(ids: ReadonlyArray<string | undefined>): boolean {
    return ids.some((id) => id !== undefined && this.revoked.has(id));
  }

  /** Age of the last complete snapshot; Infinity before the first one. */
  ageMs(): number {
    return this.lastSnapshot === 0 ? Number.POSITIVE_INFINITY : this.now() - this.lastSnapshot;
  }

  stale(): boolean {
    return this.ageMs() > this.o.staleMs;
  }

  async snapshot(): Promise<void> {
    const started = this.now();
    const zones = await this.o.pool.query<{ id: string }>('SELECT id FROM zones');
    for (const z of zones.rows) {
      const rows = await withZone(this.o.pool, z.id, (c) => c.query<{ target_id: string }>('SELECT target_id FROM revocations'));
      for (const r of rows.rows) this.revoked.add(r.target_id);
    }
    this.zones = new Set(zones.rows.map((z) => z.id));
    // Only a complete pass counts: a failure halfway leaves the previous timestamp, and staleness grows.
    this.lastSnapshot = started;
  }

  start(): void {
    this.tick();
  }

  /** Takes the next snapshot now, or right after the one in progress (it may have started too early). */
  refresh(): void {
    if (this.timer === undefined) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.tick();
  }

  private tick(): void {
    this.timer = undefined;
    this.again = false;
    this.running = this.snapshot()
      .catch((err) => this.o.logger.warn({ err: { message: (err as Error).message } }, 'revocation snapshot failed'))
      .finally(() => {
        this.timer = setTimeout(() => this.tick(), this.again ? 0 : this.o.intervalMs);
      });
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    clearTimeout(this.timer);
  }
}
