// Mandate claims (R-STS-2): the JWT every Caracal principal carries instead of an upstream credential.
export type MandateUse = 'session' | 'gateway' | 'resource';

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
  delegation_chain?: string[];
  hop_count?: number;
  /** RFC 8693 §4.1 actor claim for delegated tokens. */
  act?: { sub: string };
}

/** RFC 9068 access-token type: a mandate is never mistaken for an ID token. */
export const MANDATE_TYP = 'at+jwt';
export const MANDATE_ALG = 'ES256';
export const MAX_TOKEN_BYTES = 4096;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function scopesOf(claims: Pick<MandateClaims, 'scope'>): string[] {
  return claims.scope.split(' ').filter(Boolean);
}
