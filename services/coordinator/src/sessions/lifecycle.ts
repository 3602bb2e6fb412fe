// The lifecycle rules of agent sessions (R-CO-1): start under a live parent within the depth and fan-out limits,
// heartbeat/suspend/resume only from the right state, end a whole subtree at once. Each refusal names its reason.
import { cutSessionSubtree, lockAgentGraph, type PoolClient } from '@caracal/db';
import { InvalidRequest, ServiceError } from '@caracal/service-kit';
import { unknownParent, unknownSession } from '../auth/confine.js';
import type { Outcome } from './mutate.js';
import { applicationExists, countLiveChildren, getSession, insertSession, setStatus, touchHeartbeat, type SessionRow, type SessionStatus } from './repo.js';
import { sessionJson } from './view.js';

export const MAX_DEPTH = 10;

const refused = (code: string, description: string) => new ServiceError(409, code, description);

/** A live session whose expiry passed before the sweeper came by is already expired. */
export function effectiveStatus(s: SessionRow, now = new Date()): SessionStatus {
  return (s.status === 'active' || s.status === 'suspended') && s.expires_at <= now ? 'expired' : s.status;
}

export async function findSession(c: PoolClient, id: string, lock = false): Promise<SessionRow> {
  const s = await getSession(c, id, lock);
  // Another zone's session is invisible under RLS: it reads exactly like one that does not exist.
  if (!s) throw unknownSession(id);
  return s;
}

function demand(s: SessionRow, allowed: readonly SessionStatus[], verb: string): void {
  const status = effectiveStatus(s);
  if (!allowed.includes(status)) throw refused(`session_${status}`, `agent session '${s.id}' is ${status}; it cannot ${verb}`);
}

export interface StartInput {
  zoneId: string;
  applicationId: string;
  ttlSeconds: number;
  parentId: string | null;
  fanoutLimit: number;
}

export async function startSession(c: PoolClient, i: StartInput): Promise<Outcome> {
  if (!(await applicationExists(c, i.applicationId))) throw new InvalidRequest(`application_id: no application '${i.applicationId}' in this zone`);
  let depth = 0;
  let ttlSeconds = i.ttlSeconds;
  if (i.parentId !== null) {
    // No start lands under a subtree while it is being ended; the parent's row lock then serialises concurrent
    // starts under it, so the fan-out count below cannot race.
    await lockAgentGraph(c);
    const parent = await getSession(c, i.parentId, true);
    if (!parent) throw unknownParent(i.parentId);
    const status = effectiveStatus(parent);
    if (status !== 'active') throw refused('parent_not_active', `parent session '${parent.id}' is ${status}; children start only under an active session`);
    if (parent.depth + 1 > MAX_DEPTH) throw refused('depth_limit_exceeded', `a child of '${parent.id}' would be at depth ${parent.depth + 1}; the limit is ${MAX_DEPTH}`);
    if ((await countLiveChildren(c, parent.id)) >= i.fanoutLimit) throw refused('fanout_limit_exceeded', `parent session '${parent.id}' already has ${i.fanoutLimit} live children (the limit)`);
    depth = parent.depth + 1;
    // A child never outlives its parent: its TTL is cut to what the parent has left.
    ttlSeconds = Math.min(ttlSeconds, Math.floor((parent.expires_at.getTime() - Date.now()) / 1000));
    if (ttlSeconds < 1) throw refused('parent_not_active', `parent session '${parent.id}' expires within a second; children start only under an active session`);
  }
  const row = await insertSession(c, { zoneId: i.zoneId, applicationId: i.applicationId, parentId: i.parentId, depth, ttlSeconds });
  return {
    body: sessionJson(row),
    target: `agent_session:${row.id}`,
    detail: { application_id: row.application_id, parent_id: row.parent_id, depth, ttl_seconds: row.ttl_seconds },
    events: [{ type: 'agent.session.started', decision: 'allow', application_id: row.application_id, data: { agent_session_id: row.id, parent_id: row.parent_id, depth, expires_at: row.expires_at.toISOString() } }],
  };
}

const single = (row: SessionRow, type: string, extra: Record<string, unknown> = {}): Outcome => ({
  body: sessionJson(row),
  target: `agent_session:${row.id}`,
  detail: extra,
  events: [{ type, decision: 'allow', application_id: row.application_id, data: { agent_session_id: row.id, status: row.status, ...extra } }],
});

export async function heartbeat(c: PoolClient, id: string): Promise<Outcome> {
  demand(await findSession(c, id, true), ['active'], 'heartbeat');
  return single(await touchHeartbeat(c, id), 'agent.session.heartbeat');
}

export async function suspend(c: PoolClient, id: string): Promise<Outcome> {
  demand(await findSession(c, id, true), ['active'], 'be suspended');
  return single(await setStatus(c, id, 'suspended'), 'agent.session.suspended');
}

export async function resume(c: PoolClient, id: string): Promise<Outcome> {
  demand(await findSession(c, id, true), ['suspended'], 'be resumed');
  return single(await setStatus(c, id, 'active'), 'agent.session.resumed');
}

/** Ends the session and every live descendant, revoking their delegations, in the caller's transaction: all of them or none. */
export async function end(c: PoolClient, id: string): Promise<Outcome> {
  await lockAgentGraph(c);
  demand(await findSession(c, id, true), ['active', 'suspended'], 'be ended');
  // Delegations from or to any ended session go with it, and every edge delegated further below them.
  const { descendants, edges: revoked } = await cutSessionSubtree(c, id);
  const row = await setStatus(c, id, 'ended');
  const out = single(row, 'agent.session.ended', { descendants_ended: descendants.length, delegations_revoked: revoked.length });
  out.body = { ...out.body, descendants_ended: descendants, delegations_revoked: revoked };
  out.events.push(...descendants.map((d) => ({ type: 'agent.session.ended', decision: 'allow' as const, data: { agent_session_id: d, status: 'ended', ended_with: id } })));
  out.events.push(...revoked.map((d) => ({ type: 'delegation.revoked', decision: 'allow' as const, data: { delegation_id: d, revoked_with_session: id } })));
  // Each ended session is recorded: a mandate names its own agent session and the source session of every edge of
  // its chain, so these records cut every mandate acting for, or delegated from, any of them.
  out.revoke = [id, ...descendants].map((s) => ({ type: 'agent_session' as const, id: s }));
  return out;
}
