// Leader election for the ledger's housekeeping (R-AUD-4): a session-level advisory lock held on a dedicated
// connection. If that connection dies, Postgres releases the lock and another replica takes over.
import type { Pool, PoolClient } from '@caracal/db';

export const LEADER_LOCK = [0x6c656467, 2] as const; // ("ledg", housekeeping)

export class Leadership {
  private client: PoolClient | undefined;

  constructor(private readonly pool: Pool) {}

  /** True while this process holds the lock; tries to take it when it does not. */
  async acquire(): Promise<boolean> {
    if (this.client) {
      try {
        await this.client.query('SELECT 1');
        return true;
      } catch {
        this.drop(true);
      }
    }
    const client = await this.pool.connect();
    try {
      const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [...LEADER_LOCK]);
      if (res.rows[0]?.ok) {
        // Bound to this client: a late error of an old connection must not drop a newer one.
        client.on('error', () => this.client === client && this.drop(true));
        this.client = client;
        return true;
      }
      client.release();
      return false;
    } catch (err) {
      client.release(true);
      throw err;
    }
  }

  async release(): Promise<void> {
    const c = this.client;
    if (!c) return;
    this.client = undefined;
    await c.query('SELECT pg_advisory_unlock($1, $2)', [...LEADER_LOCK]).catch(() => undefined);
    c.release();
  }

  private drop(broken: boolean): void {
    this.client?.release(broken);
    this.client = undefined;
  }
}
