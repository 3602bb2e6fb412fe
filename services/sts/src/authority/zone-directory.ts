// Whether a zone exists, answered before any per-zone work (issue 8 item 3): one indexed lookup per zone id,
// remembered both ways in a bounded cache, so random zone claims cost at most one primary-key probe each and
// can neither grow memory nor make the STS load keys. A lookup failure throws: callers deny (fail closed).
import type { Pool } from '@caracal/db';
import { BoundedCache } from './bounded-cache.js';

export interface ZoneDirectoryOptions {
  pool: Pick<Pool, 'query'>;
  maxEntries?: number;
  /** How long an existing zone is remembered; disabling a zone takes effect within this. */
  knownTtlMs?: number;
  /** How long a missing zone is remembered; a zone created meanwhile is usable after this. */
  unknownTtlMs?: number;
  now?: () => number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class ZoneDirectory {
  private readonly cache: BoundedCache<boolean>;
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(private readonly opts: ZoneDirectoryOptions) {
    this.cache = new BoundedCache({ maxEntries: opts.maxEntries ?? 10_000, now: opts.now });
  }

  get cachedEntries(): number {
    return this.cache.size;
  }

  async exists(zoneId: string): Promise<boolean> {
    if (!UUID.test(zoneId)) return false;
    const cached = this.cache.get(zoneId);
    if (cached !== undefined) return cached;
    // Concurrent requests for one zone share one lookup.
    let p = this.pending.get(zoneId);
    if (!p) {
      p = this.lookup(zoneId).finally(() => this.pending.delete(zoneId));
      this.pending.set(zoneId, p);
    }
    return p;
  }

  private async lookup(zoneId: string): Promise<boolean> {
    const res = await this.opts.pool.query('SELECT 1 FROM zones WHERE id = $1 AND disabled_at IS NULL', [zoneId]);
    const found = (res.rowCount ?? 0) > 0;
    this.cache.set(zoneId, found, found ? (this.opts.knownTtlMs ?? 30_000) : (this.opts.unknownTtlMs ?? 10_000));
    return found;
  }

  invalidate(zoneId?: string): void {
    if (zoneId) this.cache.delete(zoneId);
    else this.cache.clear();
  }
}
