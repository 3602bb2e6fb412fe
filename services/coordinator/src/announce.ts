// The stream messages of a change (R-STR-1): agent session lifecycle on `caracal.agents.lifecycle`, delegation edges
// on `caracal.delegations.invalidate`. They are read off the change's audit events and queued in the outbox in the
// change's own transaction (R-STR-5), so a message exists exactly when its change committed.
import type { PoolClient } from '@caracal/db';
import { enqueueAll } from '@caracal/outbox';
import { STREAMS, type Fields, type FieldValue } from '@caracal/streams';
import type { LifecycleEvent } from './sessions/mutate.js';

/** Audit event type → stream and the `event` field its message carries. Heartbeats are not announced. */
const ANNOUNCED: Record<string, { stream: string; event: string }> = {
  'agent.session.started': { stream: STREAMS.agentsLifecycle, event: 'started' },
  'agent.session.suspended': { stream: STREAMS.agentsLifecycle, event: 'suspended' },
  'agent.session.resumed': { stream: STREAMS.agentsLifecycle, event: 'resumed' },
  'agent.session.ended': { stream: STREAMS.agentsLifecycle, event: 'ended' },
  'agent.session.expired': { stream: STREAMS.agentsLifecycle, event: 'expired' },
  'delegation.created': { stream: STREAMS.delegationsInvalidate, event: 'created' },
  'delegation.accepted': { stream: STREAMS.delegationsInvalidate, event: 'accepted' },
  'delegation.declined': { stream: STREAMS.delegationsInvalidate, event: 'declined' },
  'delegation.revoked': { stream: STREAMS.delegationsInvalidate, event: 'revoked' },
};

/** Stream fields are flat strings: a list becomes its items separated by spaces (scopes never hold one). */
function flat(v: unknown): FieldValue {
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return Array.isArray(v) ? v.join(' ') : JSON.stringify(v);
}

function fieldsOf(zoneId: string, event: string, e: LifecycleEvent): Fields {
  const out: Fields = { zone_id: zoneId, event, application_id: e.application_id };
  for (const [k, v] of Object.entries(e.data ?? {})) out[k] = flat(v);
  return out;
}

/** Queues the messages of the events in the caller's zone transaction; returns their event ids. */
export async function announce(c: PoolClient, zoneId: string, events: readonly LifecycleEvent[]): Promise<string[]> {
  const byStream = new Map<string, Fields[]>();
  for (const e of events) {
    const a = ANNOUNCED[e.type];
    if (a) byStream.set(a.stream, [...(byStream.get(a.stream) ?? []), fieldsOf(zoneId, a.event, e)]);
  }
  const ids: string[] = [];
  for (const [stream, messages] of byStream) ids.push(...(await enqueueAll(c, stream, messages)));
  return ids;
}
