// The JSON shape of a delegation edge, shared by every route and by stored idempotent answers.
import type { EdgeRow } from './repo.js';

export type EdgeStatus = 'pending' | 'active' | 'expired' | 'revoked' | 'declined';

export function edgeStatus(e: EdgeRow, now = new Date()): EdgeStatus {
  // A declined edge is revoked too (see markDeclined); declined says why.
  if (e.declined_at) return 'declined';
  if (e.revoked_at) return 'revoked';
  if (e.expires_at <= now) return 'expired';
  return e.accepted_at ? 'active' : 'pending';
}

export const edgeOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    zone_id: { type: 'string' },
    source_session_id: { type: 'string' },
    target_session_id: { type: 'string' },
    parent_edge_id: { type: ['string', 'null'] },
    scopes: { type: 'array', items: { type: 'string' } },
    path: { type: 'array', items: { type: 'string' } },
    hop_count: { type: 'integer' },
    status: { type: 'string' },
    expires_at: { type: 'string' },
    created_at: { type: 'string' },
    accepted_at: { type: ['string', 'null'] },
    revoked_at: { type: ['string', 'null'] },
    declined_at: { type: ['string', 'null'] },
  },
} as const;

/** An edge in a traverse: in full, or reduced (see hiddenEdgeJson). */
export const traversedEdgeOut = { ...edgeOut, properties: { ...edgeOut.properties, redacted: { type: 'boolean' } } } as const;

export function edgeJson(e: EdgeRow): Record<string, unknown> {
  return {
    id: e.id,
    zone_id: e.zone_id,
    source_session_id: e.source_session_id,
    target_session_id: e.target_session_id,
    parent_edge_id: e.parent_edge_id,
    scopes: e.scopes,
    path: e.path,
    hop_count: e.hop_count,
    status: edgeStatus(e),
    expires_at: e.expires_at.toISOString(),
    created_at: e.created_at.toISOString(),
    accepted_at: e.accepted_at ? e.accepted_at.toISOString() : null,
    revoked_at: e.revoked_at ? e.revoked_at.toISOString() : null,
    declined_at: e.declined_at ? e.declined_at.toISOString() : null,
  };
}

/**
 * An edge of a traverse the caller may not read (neither end is its application's): its place in the tree and its
 * status, so the caller sees what a revoke would cut, and nothing of the other applications (sessions, scopes, times).
 */
export function hiddenEdgeJson(e: EdgeRow): Record<string, unknown> {
  return { id: e.id, parent_edge_id: e.parent_edge_id, hop_count: e.hop_count, status: edgeStatus(e), redacted: true };
}
