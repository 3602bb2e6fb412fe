// Runs work in one transaction bound to a zone: RLS policies read `caracal.zone_id` (R-DB-2).
import { isDbUnavailable } from './db-errors.js';
import type { Pool, PoolClient } from './pool.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection that timed out or went away is discarded unasked: a ROLLBACK on it would only wait again.
    if (isDbUnavailable(err)) broken = err as Error;
    else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.release(broken);
  }
}

export async function withZone<T>(pool: Pool, zoneId: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  // Refuse before touching the database: a malformed zone id must never reach a policy expression.
  if (!UUID.test(zoneId)) throw new TypeError('zone id must be a UUID');
  return withTransaction(pool, async (client) => {
    // `true` = local to this transaction, so a pooled connection never carries a zone into the next request.
    await client.query("SELECT set_config('caracal.zone_id', $1, true)", [zoneId]);
    return fn(client);
  });
}
