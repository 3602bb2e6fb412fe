// The one registry of named deny reasons (R-POL-2, R-STS-7, R-GW-6). Each reason has a class, which fixes its
// status and OAuth error on every surface, and a public description; the logged detail is kept apart.
import type { ReasonClass } from './classes.js';

interface ReasonEntry {
  readonly class: ReasonClass;
  /** Safe to return to the caller; never carries request data. */
  readonly description: string;
}

// Generic in the class so each entry keeps its literal class: typed errors can then accept only their reasons.
const r = <C extends ReasonClass>(cls: C, description: string): ReasonEntry & { readonly class: C } => ({ class: cls, description });

export const DENY_REASONS = {
  // Malformed requests.
  invalid_request: r('request', 'the request is malformed'),
  path_rejected: r('request', 'the request path is refused'),
  unsupported_grant_type: r('grant_type', 'this grant type is not supported'),
  // Client authentication.
  invalid_client: r('client', 'client authentication failed'),
  unknown_client: r('client', 'client authentication failed'),
  bad_client_secret: r('client', 'client authentication failed'),
  client_disabled: r('client', 'client authentication failed'),
  client_mismatch: r('client', "the authenticated client is not the subject token's client"),
  // The presented mandate.
  missing_token: r('mandate', 'a bearer mandate is required'),
  malformed_token: r('mandate', 'the mandate is malformed'),
  token_too_large: r('mandate', 'the mandate is larger than 4 KiB'),
  alg_not_allowed: r('mandate', 'the mandate algorithm is not allowed'),
  unknown_zone: r('mandate', 'the mandate names no known zone'),
  unknown_key: r('mandate', 'the mandate signing key is unknown'),
  bad_signature: r('mandate', 'the mandate signature is invalid'),
  wrong_issuer: r('mandate', 'the mandate was issued by another issuer'),
  wrong_audience: r('mandate', 'the mandate is for another audience'),
  wrong_use: r('mandate', 'the mandate is not meant for this use'),
  invalid_claims: r('mandate', 'the mandate claims are invalid'),
  token_expired: r('mandate', 'the mandate has expired'),
  token_not_yet_valid: r('mandate', 'the mandate is not valid yet'),
  lifetime_exceeded: r('mandate', 'the mandate lifetime exceeds what the issuer grants'),
  token_replayed: r('mandate', 'this mandate was already used'),
  subject_not_exchangeable: r('mandate', 'this kind of mandate cannot be exchanged'),
  lineage_revoked: r('mandate', 'the mandate lineage is revoked'),
  lineage_mismatch: r('mandate', 'the mandate lineage does not match'),
  session_expired: r('mandate', 'the session has expired'),
  session_unknown: r('mandate', 'the session is unknown'),
  // Approvals (R-STS-5).
  approval_mismatch: r('grant', 'the approval does not match this request'),
  approval_consumed: r('grant', 'this approval was already used'),
  approval_expired: r('grant', 'this approval has expired'),
  approval_rejected: r('forbidden', 'the approver rejected this request'),
  approval_pending: r('step_up', 'an approver must decide first'),
  approval_required: r('step_up', 'an approver must decide first'),
  // Targets and scopes.
  unknown_resource: r('target', 'unknown resource'),
  invalid_target: r('target', 'the target resource is malformed'),
  bootstrap_scope: r('scope', 'the bootstrap grant issues exactly agent:lifecycle'),
  control_scope_invalid: r('scope', 'control scopes have the form control:<command>:<read|write|delete>'),
  // The decision contract (R-POL-2).
  resource_not_granted: r('forbidden', 'the resource is not granted'),
  role_scope_mismatch: r('forbidden', 'the requested scopes are not granted'),
  scope_widening: r('forbidden', 'the requested scopes exceed the subject mandate'),
  delegation_scope_exceeded: r('forbidden', 'the requested scopes exceed the delegation'),
  mandate_target_mismatch: r('forbidden', 'the mandate does not target this resource'),
  restriction_active: r('forbidden', 'a restriction forbids this request'),
  no_rule_matched: r('forbidden', 'no operation rule allows this request'),
  // Zone policy sets (R-POL-3): they only narrow what the contract allows; a set that cannot decide denies too.
  policy_denied: r('forbidden', 'a zone policy set denies this request'),
  policy_error: r('forbidden', 'a zone policy set could not decide this request'),
  agent_session_unknown: r('forbidden', 'unknown agent session'),
  delegation_unknown: r('forbidden', 'unknown delegation edge for this agent session'),
  // The delegated mint (R-STS-6, R-CO-1): the agent session, its delegation edge and every ancestor of either in the
  // server-side graph must be live. A suspended session may resume; the others never come back.
  agent_session_suspended: r('forbidden', 'the agent session or one of its ancestors is suspended'),
  hop_limit_exceeded: r('forbidden', 'the delegation chain is longer than 10 hops'),
  agent_session_expired: r('grant', 'the agent session or one of its ancestors has expired'),
  agent_session_ended: r('grant', 'the agent session or one of its ancestors has ended'),
  delegation_expired: r('grant', 'the delegation edge or one of its ancestors has expired'),
  delegation_revoked: r('grant', 'the delegation edge or one of its ancestors is revoked'),
  // Rate limits (R-STS-4).
  auth_rate_limited: r('rate', 'too many failed authentications'),
  mint_rate_limited: r('rate', 'mint rate limit exceeded for this resource'),
  // The control endpoint (R-CTL-1).
  unknown_command: r('request', 'unknown control command'),
  command_scope_missing: r('scope', 'the mandate lacks the scope this command needs'),
  control_rate_limited: r('rate', 'control rate limit exceeded for this subject'),
  control_disabled: r('unavailable', 'the control endpoint is disabled'),
  control_gate_missing: r('unavailable', 'the control endpoint gate file is missing'),
  // Outages: fail closed with 503.
  postgres_unavailable: r('unavailable', 'the authority store is unavailable'),
  redis_unavailable: r('unavailable', 'a required store is unavailable'),
  rate_limiter_unavailable: r('unavailable', 'rate limiter unavailable'),
  replay_store_unavailable: r('unavailable', 'the replay registry is unavailable'),
  key_unavailable: r('unavailable', 'signing keys are unavailable'),
  signing_unavailable: r('unavailable', 'the signing key is unavailable'),
  jti_collision: r('unavailable', 'a mandate id collided; retry'),
  credential_unavailable: r('unavailable', 'the upstream credential is unavailable'),
  sts_unavailable: r('unavailable', 'the STS is unavailable'),
  revocation_snapshot_stale: r('unavailable', 'revocation data is stale'),
  policy_store_unavailable: r('unavailable', "the zone's policy sets cannot be read"),
  // Upstream forwarding (R-GW-3, R-GW-4).
  upstream_blocked: r('upstream', 'the upstream is refused by the SSRF guard'),
  upstream_failed: r('upstream', 'the upstream could not be reached'),
  upstream_response_too_large: r('upstream', 'the upstream response is too large'),
  credential_invalid: r('upstream', 'the stored upstream credential cannot be sent'),
  upstream_timeout: r('upstream_timeout', 'the upstream did not answer in time'),
  request_too_large: r('too_large', 'request body too large'),
} as const satisfies Record<string, ReasonEntry>;

export type DenyReason = keyof typeof DENY_REASONS;

export function isDenyReason(value: string): value is DenyReason {
  return Object.hasOwn(DENY_REASONS, value);
}
