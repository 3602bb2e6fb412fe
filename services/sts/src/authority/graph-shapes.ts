// The shape of the graph above a delegated mint, kept per STS instance (R-STS-6, R-CO-1). Which agent sessions sit
// above a mint, which edges its chain holds, whose applications they are and what scopes the edges carry never
// change once the chain's edges are accepted (the coordinator writes those columns once), so a shape read from the
// store stays true for as long as it can be used. Everything that can change — a revocation record, a session's
// status or expiry, an edge's revocation or expiry, an application being disabled — is never kept: each mint reads
// it by key in the same function call as the authority context (caracal.authority_context_keyed, migration
// 0021). Nothing here is learned from another instance, so there is nothing another instance must be told.
import { BoundedCache } from './bounded-cache.js';
import type { AgentSessionRow, DelegationEdgeRow, DelegationGraph } from './repository.js';

/** The immutable part of a graph: its sessions and edges without the columns that can change. */
export interface GraphShape {
  agent: Pick<AgentSessionRow, 'id' | 'application_id'>;
  sessions: Pick<AgentSessionRow, 'id' | 'application_id'>[];
  edges: Omit<DelegationEdgeRow, 'expires_at' | 'revoked_at'>[];
  edgeId: string | undefined;
  /** The ids whose state a mint over this shape reads, fixed when the shape is kept. */
  ids: { sessions: string[]; edges: string[] };
}

/**
 * One row of a graph's state, as caracal.delegation_state returns it and authority_context_keyed's `graph` holds
 * it: what can change about a session or an edge, or an id that is revoked.
 */
export type StateRow =
  | { kind: 'session'; item: { id: string; status: string; expires_at: string; application_disabled: boolean } }
  | { kind: 'edge'; item: { id: string; expires_at: string; revoked_at: string | null; accepted: boolean } }
  | { kind: 'revoked'; item: string };

/** Enough for every live agent of a busy zone; the least recently used shape goes first. */
export const GRAPH_SHAPES_MAX = 10_000;
/** A shape is re-read from the store at least this often, even when nothing in it expires sooner. */
const SHAPE_TTL_MS = 10 * 60_000;

export class GraphShapes {
  private readonly cache: BoundedCache<GraphShape>;

  constructor(maxEntries = GRAPH_SHAPES_MAX) {
    this.cache = new BoundedCache({ maxEntries });
  }

  static key(zoneId: string, agentSessionId: string, edgeId: string | undefined): string {
    return `${zoneId}\u0000${agentSessionId}\u0000${edgeId ?? ''}`;
  }

  get(key: string): GraphShape | undefined {
    return this.cache.get(key);
  }

  forget(key: string): void {
    this.cache.delete(key);
  }

  /**
   * Keeps the shape of a graph read whole from the store, when it is complete: the agent session found and, over an
   * edge, every edge of its chain found and accepted. A graph that would be refused for what it lacks is not kept,
   * so a later acceptance is seen. Kept until the first expiry in it, at most SHAPE_TTL_MS.
   */
  remember(key: string, g: DelegationGraph, edgeId: string | undefined, now: number): void {
    const agent = g.agent;
    if (!agent) return;
    if (edgeId !== undefined && (!g.edge || g.chain.length !== g.edge.path.length + 1)) return;
    const until = Math.min(...[agent, ...g.sessions, ...g.chain].map((x) => x.expires_at.getTime()));
    const ttl = Math.min(until - now, SHAPE_TTL_MS);
    if (!(ttl > 0)) return;
    const pick = (s: AgentSessionRow) => ({ id: s.id, application_id: s.application_id });
    const edges = g.chain.map(({ expires_at: _e, revoked_at: _r, ...fixed }) => fixed);
    const sessions = g.sessions.map(pick);
    this.cache.set(
      key,
      { agent: pick(agent), sessions, edges, edgeId, ids: { sessions: [agent.id, ...sessions.map((s) => s.id)], edges: edges.map((e) => e.id) } },
      ttl,
    );
  }
}

/**
 * The graph from a kept shape and the state read now. Undefined when the state does not cover the shape (a session
 * or an edge gone from the store, an edge no longer accepted): the caller then reads the whole graph again.
 */
export function graphFromState(shape: GraphShape, rows: readonly StateRow[]): DelegationGraph | undefined {
  const sessions = new Map<string, Extract<StateRow, { kind: 'session' }>['item']>();
  const edges = new Map<string, Extract<StateRow, { kind: 'edge' }>['item']>();
  const revoked = new Set<string>();
  for (const r of rows) {
    if (r.kind === 'session') sessions.set(r.item.id, r.item);
    else if (r.kind === 'edge') edges.set(r.item.id, r.item);
    else revoked.add(r.item);
  }
  // Rows are built field by field: an object spread followed by more fields costs about a microsecond in V8, and a
  // mint builds a dozen of these.
  const session = (s: GraphShape['agent']): AgentSessionRow | undefined => {
    const now = sessions.get(s.id);
    return now && { id: s.id, application_id: s.application_id, status: now.status, expires_at: new Date(now.expires_at), application_disabled: now.application_disabled };
  };
  const agent = session(shape.agent);
  const above = shape.sessions.map(session);
  const chain = shape.edges.map((e): DelegationEdgeRow | undefined => {
    const now = edges.get(e.id);
    if (!now?.accepted) return undefined;
    const { id, source_session_id, target_session_id, scopes, path, hop_count } = e;
    return { id, source_session_id, target_session_id, scopes, path, hop_count, expires_at: new Date(now.expires_at), revoked_at: now.revoked_at === null ? null : new Date(now.revoked_at) };
  });
  if (!agent || above.some((s) => !s) || chain.some((e) => !e)) return undefined;
  const live = chain as DelegationEdgeRow[];
  return { agent, sessions: above as AgentSessionRow[], chain: live, edge: live.find((e) => e.id === shape.edgeId), revoked };
}
