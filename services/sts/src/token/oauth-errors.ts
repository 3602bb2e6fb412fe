// OAuth errors (RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 8707 §2) as typed classes; the kit's one error handler turns
// them into `{error, error_description}` responses. `reason` is the named deny reason for the audit trail.
import { ServiceError } from '@caracal/service-kit';

export class OAuthError extends ServiceError {
  constructor(status: number, error: string, description: string, readonly reason: string = error, headers: Record<string, string> = {}) {
    super(status, error, description, headers);
  }
}

export const invalidRequest = (d: string, reason = 'invalid_request') => new OAuthError(400, 'invalid_request', d, reason);
export const invalidClient = (d: string, reason = 'invalid_client') => new OAuthError(401, 'invalid_client', d, reason, { 'www-authenticate': 'Basic realm="caracal"' });
export const invalidGrant = (d: string, reason = 'invalid_grant') => new OAuthError(400, 'invalid_grant', d, reason);
export const invalidScope = (d: string, reason = 'invalid_scope') => new OAuthError(400, 'invalid_scope', d, reason);
export const invalidTarget = (d: string, reason = 'invalid_target') => new OAuthError(400, 'invalid_target', d, reason);
export const unsupportedGrantType = (d: string) => new OAuthError(400, 'unsupported_grant_type', d);
export const accessDenied = (d: string, reason: string) => new OAuthError(403, 'access_denied', d, reason);
export const slowDown = (d: string, retryAfter: number, reason: string) => new OAuthError(429, 'slow_down', d, reason, { 'retry-after': String(retryAfter) });
export const unavailable = (d: string, reason: string) => new OAuthError(503, 'temporarily_unavailable', d, reason);

/** RFC 6749-style step-up answer (R-STS-5): the client retries with `approval_id` once an approver said yes. */
export function interactionRequired(description: string, reason: string, approvalId: string): OAuthError {
  const err = new OAuthError(401, 'interaction_required', description, reason);
  err.extra = { approval_id: approvalId };
  return err;
}
