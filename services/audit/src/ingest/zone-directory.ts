// Which zones exist. Events for a zone the database does not know go to the DLQ (replayable once the zone
// exists), so every chain belongs to a zone that verification and export will visit.
import type { Pool } from '@caracal/db';

export class ZoneDirectory {
  private known = new Set<string>();
  private loadedAt = 0;

  constructor(
    private readonly pool: Pool,
    private readonly minRefreshMs = 1000,
  ) {}

  async has(zoneId: string): Promise<boolean> {
    if (this.known.has(zoneId)) return true;
    if (Date.now() - this.loadedAt >= this.minRefreshMs) await this.refresh();
    return this.known.has(zoneId);
  }

  async all(): Promise<string[]> {
    await this.refresh();
    return [...this.known].sort();
  }

  private async refresh(): Promise<void> {
    const rows = await this.pool.query<{ id: string }>('SELECT id FROM zones');
    this.known = new Set(rows.rows.map((r) => r.id));
    this.loadedAt = Date.now();
  }
}
