// The JSON shape of an agent session, shared by every route and by stored idempotent answers.
import type { SessionRow } from './repo.js';

export const sessionOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    zone_id: { type: 'string' },
    application_id: { type: 'string' },
    parent_id: { type: ['string', 'null'] },
    depth: { type: 'integer' },
    status: { type: 'string' },
    ttl_seconds: { type: 'integer' },
    expires_at: { type: 'string' },
    last_heartbeat_at: { type: 'string' },
    created_at: { type: 'string' },
    ended_at: { type: ['string', 'null'] },
  },
} as const;

/** A session in a tree: in full, or reduced (see hiddenSessionJson). */
export const treeSessionOut = { ...sessionOut, properties: { ...sessionOut.properties, redacted: { type: 'boolean' } } } as const;

export function sessionJson(r: SessionRow): Record<string, unknown> {
  return {
    id: r.id,
    zone_id: r.zone_id,
    application_id: r.application_id,
    parent_id: r.parent_id,
    depth: r.depth,
    status: r.status,
    ttl_seconds: r.ttl_seconds,
    expires_at: r.expires_at.toISOString(),
    last_heartbeat_at: r.last_heartbeat_at.toISOString(),
    created_at: r.created_at.toISOString(),
    ended_at: r.ended_at ? r.ended_at.toISOString() : null,
  };
}

/**
 * A session of a tree the caller may not read (another application's, placed there by the operator): its place in
 * the tree and its status, so the caller sees what ending the root would end, and nothing else of it.
 */
export function hiddenSessionJson(r: SessionRow): Record<string, unknown> {
  return { id: r.id, parent_id: r.parent_id, depth: r.depth, status: r.status, redacted: true };
}
