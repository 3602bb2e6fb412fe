// Token endpoint refusals (RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 8707 §2): one class per RFC error code, each built
// from the shared registry (surface 'token'), so a reason's status is fixed in one table. A class only accepts
// reasons whose registry class answers its code: the compiler refuses an invalid_grant built from a 403 reason.
// The description is public; `detail` is logged, never returned.
import { DENY_REASONS, DenyError, isDenyReason, type DenyReason, type ReasonClass } from '@caracal/deny-reasons';

type ReasonsOf<C extends ReasonClass> = { [K in DenyReason]: (typeof DENY_REASONS)[K]['class'] extends C ? K : never }[DenyReason];

/** Whether a reason's registry class is `cls`: narrows a reason from elsewhere (a verifier, the contract). */
export function isReasonOf<C extends ReasonClass>(reason: string, cls: C): reason is ReasonsOf<C> {
  return isDenyReason(reason) && DENY_REASONS[reason].class === cls;
}

/** A refusal at the token endpoint; `reason` names it in the audit trail. */
export class OAuthError extends DenyError {
  constructor(reason: DenyReason, description?: string, detail?: string, headers: Record<string, string> = {}) {
    super(reason, 'token', description, detail, headers);
  }
}

export class InvalidRequest extends OAuthError {
  constructor(description: string, reason: ReasonsOf<'request'> = 'invalid_request') {
    super(reason, description);
  }
}

export class UnsupportedGrantType extends OAuthError {
  constructor(description: string) {
    super('unsupported_grant_type', description);
  }
}

/** RFC 6749 §5.2: a 401 here carries a challenge for the scheme the client used. */
export class InvalidClient extends OAuthError {
  constructor(reason: ReasonsOf<'client'>, description?: string) {
    super(reason, description, undefined, { 'www-authenticate': 'Basic realm="caracal"' });
  }
}

export class InvalidGrant extends OAuthError {
  constructor(reason: ReasonsOf<'mandate' | 'grant'>, description?: string) {
    super(reason, description);
  }
}

export class InvalidTarget extends OAuthError {
  constructor(description: string, reason: ReasonsOf<'target'> = 'invalid_target') {
    super(reason, description);
  }
}

export class InvalidScope extends OAuthError {
  constructor(reason: ReasonsOf<'scope'>, description?: string, detail?: string) {
    super(reason, description, detail);
  }
}

export class AccessDenied extends OAuthError {
  constructor(reason: ReasonsOf<'forbidden'>, description?: string, detail?: string) {
    super(reason, description, detail);
  }
}

export class SlowDown extends OAuthError {
  constructor(reason: ReasonsOf<'rate'>, retryAfterSeconds: number) {
    super(reason, undefined, undefined, { 'retry-after': String(Math.max(1, retryAfterSeconds)) });
  }
}

/** A dependency failed: always 503, and the cause goes to the log only (fail closed, R-STS-3). */
export class TemporarilyUnavailable extends OAuthError {
  constructor(reason: ReasonsOf<'unavailable'>, detail?: string) {
    super(reason, undefined, detail);
  }
}

/** Step-up (R-STS-5): the client retries with `approval_id` once an approver said yes. */
export class InteractionRequired extends OAuthError {
  constructor(reason: ReasonsOf<'step_up'>, description: string, approvalId: string) {
    super(reason, description);
    this.extra = { approval_id: approvalId };
  }
}

/** Runs a dependency call; any failure becomes a 503 with the given reason (fail closed). */
export async function orUnavailable<T>(reason: ReasonsOf<'unavailable'>, work: Promise<T> | (() => Promise<T>)): Promise<T> {
  try {
    return await (typeof work === 'function' ? work() : work);
  } catch (err) {
    if (err instanceof DenyError) throw err;
    throw new TemporarilyUnavailable(reason, (err as Error)?.message);
  }
}
