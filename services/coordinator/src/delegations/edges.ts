// The rules of delegation edges (R-CO-1): a session hands a subset of its own authority to another active session
// of its zone. Scopes never widen (a root edge stays within the source application's grants, a child edge within
// its parent edge), expiry never outlives the source session or the parent edge, at most 10 hops, no cycles; an
// edge to another application's session waits for that application's accept (consent.ts). Revoking an edge cuts its
// subtree.
import { lockAgentGraph, revokeEdgeSubtrees, type PoolClient } from '@caracal/db';
import { InvalidRequest, ServiceError } from '@caracal/service-kit';
import type { Caller } from '../auth/authenticate.js';
import { unknownEdge } from '../auth/confine.js';
import { effectiveStatus, findSession } from '../sessions/lifecycle.js';
import type { LifecycleEvent, Outcome } from '../sessions/mutate.js';
import type { SessionRow } from '../sessions/repo.js';
import { getEdge, grantedScopes, insertEdge, liveIncoming, reaches, type EdgeRow } from './repo.js';
import { edgeJson, edgeStatus } from './view.js';

export const MAX_HOPS = 10;

export const refused = (code: string, description: string) => new ServiceError(409, code, description);
const forbidden = (code: string, description: string) => new ServiceError(403, code, description);

export async function findEdge(c: PoolClient, id: string, lock = false): Promise<EdgeRow> {
  const e = await getEdge(c, id, lock);
  // Another zone's edge is invisible under RLS: it reads exactly like one that does not exist.
  if (!e) throw unknownEdge(id);
  return e;
}

export function activeSession(s: SessionRow, role: 'source' | 'target'): void {
  const status = effectiveStatus(s);
  if (status !== 'active') throw refused('session_not_active', `${role} session '${s.id}' is ${status}; delegations are made only between active sessions`);
}

/** A mandate acts only for its own application's sessions; the operator acts for any. */
export function actsFor(caller: Caller, applicationIds: string[], what: string): void {
  if (caller.kind === 'mandate' && !applicationIds.includes(caller.applicationId)) throw forbidden('application_mismatch', `a session mandate ${what}`);
}

export interface CreateInput {
  zoneId: string;
  caller: Caller;
  sourceId: string;
  targetId: string;
  scopes: string[];
  ttlSeconds?: number;
  expiresAt?: string;
  parentEdgeId?: string;
}

export const edgeEvent = (type: string, e: EdgeRow, extra: Record<string, unknown> = {}): LifecycleEvent => ({
  type,
  decision: 'allow',
  data: { delegation_id: e.id, source_session_id: e.source_session_id, target_session_id: e.target_session_id, scopes: e.scopes, hop_count: e.hop_count, ...extra },
});

export async function createEdge(c: PoolClient, i: CreateInput): Promise<Outcome> {
  if (i.sourceId === i.targetId) throw new InvalidRequest('target_session_id: a session cannot delegate to itself');
  const scopes = [...new Set(i.scopes)];
  if (scopes.length === 0) throw new InvalidRequest('scopes: at least one scope is required; an empty delegation is never unrestricted');
  const now = new Date();
  const expiresAt = i.ttlSeconds !== undefined ? new Date(now.getTime() + i.ttlSeconds * 1000) : new Date(i.expiresAt!);
  if (Number.isNaN(expiresAt.getTime())) throw new InvalidRequest('expires_at: must be an RFC 3339 date-time');
  if (expiresAt <= now) throw new InvalidRequest('expires_at: must be in the future');

  await lockAgentGraph(c);
  const source = await findSession(c, i.sourceId);
  const target = await findSession(c, i.targetId);
  actsFor(i.caller, [source.application_id], "delegates only from its own application's sessions");
  activeSession(source, 'source');
  activeSession(target, 'target');
  // Checked first: a cycle is refused as a cycle whatever else is wrong with the edge.
  if (await reaches(c, target.id, source.id)) throw refused('delegation_cycle', `session '${target.id}' already delegates (directly or through others) to '${source.id}'; this edge would close a cycle`);

  // The source's own authority: the edge it holds by delegation (named, or its only one), else its application's grants.
  let parent: EdgeRow | null = null;
  if (i.parentEdgeId !== undefined) {
    parent = await findEdge(c, i.parentEdgeId);
    if (parent.target_session_id !== source.id) throw new InvalidRequest(`parent_edge_id: delegation '${parent.id}' was not made to source session '${source.id}'`);
    const status = edgeStatus(parent);
    if (status !== 'active') throw refused('parent_delegation_not_active', `parent delegation '${parent.id}' is ${status}; only an active delegation can be delegated further`);
  } else {
    const held = await liveIncoming(c, source.id);
    if (held.length > 1) throw new InvalidRequest(`parent_edge_id: is required; source session '${source.id}' holds ${held.length} delegations (${held.map((e) => e.id).join(', ')})`);
    parent = held[0] ?? null;
  }
  const bound = parent ? parent.scopes : await grantedScopes(c, source.application_id);
  const extra = scopes.filter((s) => !bound.includes(s));
  if (extra.length > 0) {
    const whose = parent ? `parent delegation '${parent.id}'` : `application '${source.application_id}' is granted`;
    throw refused('delegation_scope_exceeded', `scopes beyond what ${whose}: ${extra.join(', ')}`);
  }
  if (parent && parent.hop_count + 1 > MAX_HOPS) throw refused('hop_limit_exceeded', `a delegation below '${parent.id}' would be hop ${parent.hop_count + 1}; the limit is ${MAX_HOPS}`);
  if (expiresAt > source.expires_at) throw refused('delegation_expired', `the delegation would expire at ${expiresAt.toISOString()}, after source session '${source.id}' (${source.expires_at.toISOString()})`);
  if (parent && expiresAt > parent.expires_at) throw refused('delegation_expired', `the delegation would expire at ${expiresAt.toISOString()}, after parent delegation '${parent.id}' (${parent.expires_at.toISOString()})`);

  const accepted = source.application_id === target.application_id;
  const row = await insertEdge(c, { zoneId: i.zoneId, sourceId: source.id, targetId: target.id, parent, scopes, expiresAt, accepted });
  return {
    body: edgeJson(row),
    target: `delegation:${row.id}`,
    detail: { source_session_id: row.source_session_id, target_session_id: row.target_session_id, scopes: row.scopes, hop_count: row.hop_count, status: edgeStatus(row) },
    events: [{ ...edgeEvent('delegation.created', row, { status: edgeStatus(row), parent_edge_id: row.parent_edge_id, expires_at: row.expires_at.toISOString() }), application_id: source.application_id }],
  };
}

export async function revokeEdge(c: PoolClient, caller: Caller, id: string): Promise<Outcome> {
  await lockAgentGraph(c);
  const edge = await findEdge(c, id, true);
  const [source, target] = [await findSession(c, edge.source_session_id), await findSession(c, edge.target_session_id)];
  actsFor(caller, [source.application_id, target.application_id], 'revokes only delegations from or to its own application\'s sessions');
  if (edge.revoked_at) throw refused(`delegation_${edgeStatus(edge)}`, `delegation '${edge.id}' is already ${edgeStatus(edge)}`);
  const revoked = await revokeEdgeSubtrees(c, [edge.id]);
  const row = (await getEdge(c, edge.id))!;
  const below = revoked.filter((r) => r !== edge.id);
  return {
    body: { ...edgeJson(row), revoked: revoked.length, descendants_revoked: below },
    target: `delegation:${row.id}`,
    detail: { revoked: revoked.length },
    events: [edgeEvent('delegation.revoked', row, { revoked: revoked.length }), ...below.map((d) => ({ type: 'delegation.revoked', decision: 'allow' as const, data: { delegation_id: d, revoked_with: edge.id } }))],
    // One record for the whole subtree: every descendant mandate carries this edge in its delegation chain.
    revoke: [{ type: 'delegation_edge', id: edge.id }],
  };
}
