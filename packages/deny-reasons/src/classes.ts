// What each class of deny reason answers on each surface: the OAuth token endpoint (RFC 6749 §5.2, RFC 8693
// §2.2.2, RFC 8707 §2) and a protected resource (RFC 6750 §3.1). Status and error code live here and only here.

export type Surface = 'token' | 'resource';

export interface Answer {
  status: number;
  error: string;
}

export type ReasonClass =
  | 'request'
  | 'grant_type'
  | 'client'
  | 'mandate'
  | 'grant'
  | 'target'
  | 'scope'
  | 'forbidden'
  | 'step_up'
  | 'rate'
  | 'unavailable'
  | 'upstream'
  | 'upstream_timeout'
  | 'too_large';

export const CLASS_ANSWERS: Record<ReasonClass, Record<Surface, Answer>> = {
  // The request itself is malformed.
  request: { token: { status: 400, error: 'invalid_request' }, resource: { status: 400, error: 'invalid_request' } },
  // The grant type is unknown (RFC 6749 §5.2); no resource surface has grant types.
  grant_type: { token: { status: 400, error: 'unsupported_grant_type' }, resource: { status: 400, error: 'invalid_request' } },
  // Client authentication failed (RFC 6749 §5.2: 401 with a challenge).
  client: { token: { status: 401, error: 'invalid_client' }, resource: { status: 401, error: 'invalid_token' } },
  // The presented mandate (subject token or bearer) is no good: invalid_grant at the STS, 401 at a resource.
  mandate: { token: { status: 400, error: 'invalid_grant' }, resource: { status: 401, error: 'invalid_token' } },
  // A grant-bound artefact (an approval, an agent session, a delegation edge) is no good; the mandate itself may be fine.
  grant: { token: { status: 400, error: 'invalid_grant' }, resource: { status: 403, error: 'insufficient_scope' } },
  // The named target does not exist (RFC 8707 §2).
  target: { token: { status: 400, error: 'invalid_target' }, resource: { status: 404, error: 'not_found' } },
  // The requested scope is malformed or not issuable by this grant.
  scope: { token: { status: 400, error: 'invalid_scope' }, resource: { status: 403, error: 'insufficient_scope' } },
  // Authenticated and well-formed, but the authority does not allow it.
  forbidden: { token: { status: 403, error: 'access_denied' }, resource: { status: 403, error: 'insufficient_scope' } },
  // Step-up (R-STS-5): an approver must decide first.
  step_up: { token: { status: 401, error: 'interaction_required' }, resource: { status: 403, error: 'insufficient_scope' } },
  rate: { token: { status: 429, error: 'slow_down' }, resource: { status: 429, error: 'too_many_requests' } },
  // A dependency is down or slow: always 503, never a 4xx (fail closed, and say it is an outage).
  unavailable: { token: { status: 503, error: 'temporarily_unavailable' }, resource: { status: 503, error: 'temporarily_unavailable' } },
  upstream: { token: { status: 502, error: 'bad_gateway' }, resource: { status: 502, error: 'bad_gateway' } },
  upstream_timeout: { token: { status: 504, error: 'upstream_timeout' }, resource: { status: 504, error: 'upstream_timeout' } },
  too_large: { token: { status: 413, error: 'payload_too_large' }, resource: { status: 413, error: 'payload_too_large' } },
};
