// Mandate claims (R-STS-2): the JWT every Caracal principal carries instead of an upstream credential.
/** `control` mandates are accepted only by the API's control endpoint (R-CTL-1), with audience `caracal-control`. */
export type MandateUse = 'session' | 'gateway' | 'resource' | 'control';

export interface MandateClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  zone_id: string;
  client_id: string;
  scope: string;
  /** The authority record (session) this mandate descends from. */
  sid: string;
  use: MandateUse;
  agent_session_id?: string;
  delegation_edge_id?: string;
  /** The delegation edges the mandate's authority flows through, root first; the last is `delegation_edge_id`. */
  delegation_chain?: string[];
  /** The source agent session of each edge of `delegation_chain`, in the same order. */
  agent_session_chain?: string[];
  hop_count?: number;
  /**
   * RFC 8693 §4.1 actor claim for delegated tokens: the current actor outermost, each earlier one nested inside.
   * Informational only: no authorization decision reads it (§4.1: prior actors are not considered).
   */
  act?: Actor;
}

export interface Actor {
  sub: string;
  act?: Actor;
}

/** RFC 9068 access-token type: a mandate is never mistaken for an ID token. */
export const MANDATE_TYP = 'at+jwt';
export const MANDATE_ALG = 'ES256';
export const MAX_TOKEN_BYTES = 4096;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function scopesOf(claims: Pick<MandateClaims, 'scope'>): string[] {
  return claims.scope.split(' ').filter(Boolean);
}

/** The RFC 8693 `act` claim for a chain of actors given root first: the last one outermost. */
export function nestedActor(actorsRootFirst: readonly string[]): Actor | undefined {
  let act: Actor | undefined;
  for (const sub of actorsRootFirst) act = act ? { sub, act } : { sub };
  return act;
}

const ids = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Every record a mandate descends from, as its signed top-level claims name them: the authority session, the agent
 * session, the delegation edge, every edge of its chain and the source session of each. Revoking any one of them
 * revokes the mandate, so one revoked ancestor cuts a whole subtree. Never the nested `act`.
 */
export function lineageIds(c: Pick<MandateClaims, 'sid' | 'agent_session_id' | 'delegation_edge_id' | 'delegation_chain' | 'agent_session_chain'>): string[] {
  const one = [c.sid, c.agent_session_id, c.delegation_edge_id].filter((x): x is string => typeof x === 'string');
  return [...new Set([...one, ...ids(c.delegation_chain), ...ids(c.agent_session_chain)])];
}
