// Which zones exist. Events for a zone the database does not know go to the DLQ (replayable once the zone
// exists), so every chain belongs to a zone that verification and export will visit. Known zones are cached;
// a miss always asks the database, so a zone created a moment ago is never refused.
import type { Pool } from '@caracal/db';

export class ZoneDirectory {
  private readonly known = new Set<string>();

  constructor(private readonly pool: Pool) {}

  async has(zoneId: string): Promise<boolean> {
    if (this.known.has(zoneId)) return true;
    const res = await this.pool.query('SELECT 1 FROM zones WHERE id = $1', [zoneId]);
    if (res.rowCount) this.known.add(zoneId);
    return this.known.has(zoneId);
  }

  async all(): Promise<string[]> {
    const rows = await this.pool.query<{ id: string }>('SELECT id FROM zones ORDER BY id');
    for (const r of rows.rows) this.known.add(r.id);
    return rows.rows.map((r) => r.id);
  }
}
