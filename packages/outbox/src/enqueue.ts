// Writes stream messages into the outbox inside the caller's transaction (R-STR-5): they exist if and only if the
// change they announce commits. Delivery is at least once; each message gets a fresh event id, carried on the
// stream as `event_id` for consumers to deduplicate on (today's consumers apply messages idempotently instead).
import type { PoolClient } from '@caracal/db';
import { assertSignable, SIG_FIELD, type Fields } from '@caracal/streams';
import { v7 as uuidv7 } from 'uuid';

/** The field every relayed message carries: the outbox row's id. */
export const EVENT_ID_FIELD = 'event_id';

const RESERVED = [EVENT_ID_FIELD, SIG_FIELD];

/** Values as they will be signed and sent: strings, null and undefined dropped (R-STR-2). */
function stored(fields: Fields): Record<string, string> {
  const reserved = Object.keys(fields).find((k) => RESERVED.includes(k));
  if (reserved !== undefined) throw new TypeError(`field '${reserved}' is set by the outbox relay`);
  // Refused now, in the caller's transaction, rather than dead later at the relay.
  assertSignable(fields);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== null && v !== undefined) out[k] = String(v);
  return out;
}

/**
 * Queues messages for one stream in the zone the transaction is bound to (`caracal.zone_id`, R-DB-2); a client
 * bound to no zone fails, so nothing is ever queued outside a zone. Returns the event ids, in order.
 */
export async function enqueueAll(c: PoolClient, stream: string, messages: readonly Fields[]): Promise<string[]> {
  if (messages.length === 0) return [];
  const payloads = messages.map(stored);
  const ids = payloads.map(() => uuidv7());
  await c.query(
    `INSERT INTO outbox (id, zone_id, stream, payload)
     SELECT t.id, caracal.current_zone_id(), $2, t.payload FROM unnest($1::uuid[], $3::jsonb[]) AS t(id, payload)`,
    [ids, stream, payloads.map((p) => JSON.stringify(p))],
  );
  return ids;
}

export async function enqueue(c: PoolClient, stream: string, fields: Fields): Promise<string> {
  return (await enqueueAll(c, stream, [fields]))[0]!;
}
