// SQL of the outbox relay; every query runs in a transaction bound to one zone (RLS, R-DB-2).
import type { PoolClient } from '@caracal/db';

export interface DueRow {
  id: string;
  stream: string;
  payload: Record<string, string>;
  attempts: number;
}

/**
 * Takes up to `limit` due rows, oldest first, and holds their row locks until the transaction ends. SKIP LOCKED:
 * rows another relay holds are passed over, so two relays never publish the same row at once (R-STR-5).
 */
export async function takeDue(c: PoolClient, limit: number): Promise<DueRow[]> {
  const r = await c.query<DueRow>(
    `SELECT id, stream, payload, attempts FROM outbox
      WHERE published_at IS NULL AND dead_at IS NULL AND next_attempt_at <= now()
      ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return r.rows;
}

/**
 * Takes the named rows that are still due, waiting for any relay that holds one: once it commits, a row it
 * published is no longer due. So when the caller's batch commits, each row is published or has its failure counted.
 */
export async function takeEvents(c: PoolClient, ids: readonly string[]): Promise<DueRow[]> {
  const r = await c.query<DueRow>(
    `SELECT id, stream, payload, attempts FROM outbox
      WHERE id = ANY($1::uuid[]) AND published_at IS NULL AND dead_at IS NULL AND next_attempt_at <= now()
      ORDER BY created_at, id FOR UPDATE`,
    [ids],
  );
  return r.rows;
}

export async function markPublished(c: PoolClient, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await c.query('UPDATE outbox SET published_at = now(), last_error = NULL WHERE id = ANY($1::uuid[])', [ids]);
}

export interface Failure {
  id: string;
  error: string;
  waitMs: number;
  dead: boolean;
}

/** Counts a failed attempt: the row waits `waitMs` before its next one, or is dead and never tried again. */
export async function markFailed(c: PoolClient, failures: readonly Failure[]): Promise<void> {
  if (failures.length === 0) return;
  await c.query(
    `UPDATE outbox o SET attempts = o.attempts + 1, last_error = t.error,
            next_attempt_at = now() + t.wait_ms * interval '1 millisecond', dead_at = CASE WHEN t.dead THEN now() END
       FROM unnest($1::uuid[], $2::text[], $3::double precision[], $4::boolean[]) AS t(id, error, wait_ms, dead)
      WHERE o.id = t.id`,
    [failures.map((f) => f.id), failures.map((f) => f.error), failures.map((f) => f.waitMs), failures.map((f) => f.dead)],
  );
}

/** Age in ms of the zone's oldest unpublished, undead row (locked ones included), or null when there is none. */
export async function oldestPendingAgeMs(c: PoolClient): Promise<number | null> {
  const r = await c.query<{ age_ms: number | null }>(
    'SELECT (extract(epoch FROM clock_timestamp() - min(created_at)) * 1000)::double precision AS age_ms FROM outbox WHERE published_at IS NULL AND dead_at IS NULL',
  );
  return r.rows[0]?.age_ms ?? null;
}

/** Deletes up to `limit` rows published more than `retentionSeconds` ago; dead rows stay for inspection. */
export async function prunePublished(c: PoolClient, retentionSeconds: number, limit: number): Promise<number> {
  const r = await c.query(
    `DELETE FROM outbox WHERE id IN (
       SELECT id FROM outbox WHERE published_at < now() - $1::integer * interval '1 second' LIMIT $2)`,
    [retentionSeconds, limit],
  );
  return r.rowCount ?? 0;
}

export async function zoneIds(c: { query: PoolClient['query'] }): Promise<string[]> {
  return (await c.query<{ id: string }>('SELECT id FROM zones ORDER BY id')).rows.map((z) => z.id);
}
