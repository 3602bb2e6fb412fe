// The delegated mint's judgement of the server-side graph (R-STS-6, R-CO-1): the agent session is the application's
// own, the edge leads to it, and every edge of the chain and every agent session above the mint is live. Only the
// stored graph is read, never what a presented token claims about its actors (RFC 8693 §4.1).
import type { AgentSessionRow, DelegationEdgeRow, DelegationGraph } from '../../authority/index.js';
import { AccessDenied, InvalidGrant } from '../oauth-errors.js';

export const MAX_HOPS = 10;

const past = (d: Date, now: Date) => d.getTime() <= now.getTime();

/** The most permanent state wins: a revoked chain says revoked even when part of it has also expired. */
function judgeEdges(chain: readonly DelegationEdgeRow[], revoked: ReadonlySet<string>, now: Date): void {
  const dead = chain.find((e) => e.revoked_at !== null || revoked.has(e.id));
  if (dead) throw new InvalidGrant('delegation_revoked', `delegation '${dead.id}' of the chain is revoked (delegation_revoked)`);
  const expired = chain.find((e) => past(e.expires_at, now));
  if (expired) throw new InvalidGrant('delegation_expired', `delegation '${expired.id}' of the chain has expired (delegation_expired)`);
}

function judgeSessions(sessions: readonly AgentSessionRow[], revoked: ReadonlySet<string>, now: Date): void {
  const named = (s: AgentSessionRow) => `agent session '${s.id}'`;
  // An ended session is also recorded as revoked (its end cut what hung below it): it answers as ended.
  const ended = sessions.find((s) => s.status === 'ended');
  if (ended) throw new InvalidGrant('agent_session_ended', `${named(ended)} has ended (agent_session_ended)`);
  const dead = sessions.find((s) => s.status === 'revoked' || revoked.has(s.id));
  if (dead) throw new InvalidGrant('lineage_revoked', `${named(dead)} is revoked (lineage_revoked)`);
  const disabled = sessions.find((s) => s.application_disabled);
  if (disabled) throw new InvalidGrant('lineage_revoked', `the application of ${named(disabled)} is disabled (lineage_revoked)`);
  const expired = sessions.find((s) => s.status === 'expired' || past(s.expires_at, now));
  if (expired) throw new InvalidGrant('agent_session_expired', `${named(expired)} has expired (agent_session_expired)`);
  const suspended = sessions.find((s) => s.status === 'suspended');
  if (suspended) throw new AccessDenied('agent_session_suspended', `${named(suspended)} is suspended (agent_session_suspended)`);
}

/**
 * Judges the graph for a mint as `agentSessionId` (over `edgeId`, when named) by `applicationId`; returns the chain
 * of edges, root first, that the mandate will record (empty without an edge).
 */
export function judgeDelegation(g: DelegationGraph, applicationId: string, edgeId: string | undefined, now = new Date()): DelegationEdgeRow[] {
  const agent = g.agent;
  if (!agent || agent.application_id !== applicationId) throw new AccessDenied('agent_session_unknown', 'unknown agent session');
  if (edgeId) {
    const edge = g.edge;
    if (!edge || edge.target_session_id !== agent.id) throw new AccessDenied('delegation_unknown', 'unknown delegation edge for this agent session');
    // An ancestor the path names but the store does not hold (or holds unaccepted) leaves the chain unproven.
    if (g.chain.length !== edge.path.length + 1) throw new AccessDenied('delegation_unknown', 'the delegation chain of this edge is incomplete (delegation_unknown)');
    if (edge.hop_count > MAX_HOPS || g.chain.length > MAX_HOPS) throw new AccessDenied('hop_limit_exceeded', `the delegation chain has ${g.chain.length} hops; the limit is ${MAX_HOPS} (hop_limit_exceeded)`);
    judgeEdges(g.chain, g.revoked, now);
  }
  judgeSessions([agent, ...g.sessions], g.revoked, now);
  return edgeId ? g.chain : [];
}
