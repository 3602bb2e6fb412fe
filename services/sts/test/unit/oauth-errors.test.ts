// Every token-endpoint refusal is built from the shared registry (issue 8 item 10): each RFC error code has one
// class, its status and code come from the registry, and the logged detail never reaches the response.
import { describe, expect, it } from 'vitest';
import { answerFor, DENY_REASONS, type DenyReason } from '../../../../packages/deny-reasons/dist/index.js';
import type {
  OAuthError} from '../../src/token/oauth-errors.js';
import {
  AccessDenied,
  InteractionRequired,
  InvalidClient,
  InvalidGrant,
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  SlowDown,
  TemporarilyUnavailable,
  UnsupportedGrantType,
} from '../../src/token/oauth-errors.js';

describe('token refusals', () => {
  const made: Array<[string, OAuthError]> = [
    ['invalid_request', new InvalidRequest('bad form')],
    ['unsupported_grant_type', new UnsupportedGrantType("grant_type 'x' is not supported")],
    ['invalid_client', new InvalidClient('bad_client_secret')],
    ['invalid_grant', new InvalidGrant('subject_not_exchangeable')],
    ['invalid_grant', new InvalidGrant('approval_consumed')],
    ['invalid_target', new InvalidTarget('unknown resource', 'unknown_resource')],
    ['invalid_scope', new InvalidScope('bootstrap_scope')],
    ['access_denied', new AccessDenied('role_scope_mismatch')],
    ['slow_down', new SlowDown('auth_rate_limited', 12)],
    ['temporarily_unavailable', new TemporarilyUnavailable('postgres_unavailable', 'connect ECONNREFUSED 10.0.0.5:5432')],
    ['interaction_required', new InteractionRequired('approval_required', 'an approver must decide', '0190a1b2-0000-7000-8000-000000000000')],
  ];

  it.each(made)('%s takes its status and code from the registry', (code, err) => {
    expect(err.error).toBe(code);
    expect({ status: err.statusCode, error: err.error }).toEqual(answerFor(err.reason as DenyReason, 'token'));
  });

  it('keeps the logged detail out of the public description', () => {
    const err = new TemporarilyUnavailable('postgres_unavailable', 'connect ECONNREFUSED 10.0.0.5:5432');
    expect(err.statusCode).toBe(503);
    expect(err.description).toBe(DENY_REASONS.postgres_unavailable.description);
    expect(err.description).not.toContain('10.0.0.5');
    expect(err.detail).toContain('ECONNREFUSED');
  });

  it('answers invalid_client with a challenge and slow_down with Retry-After', () => {
    expect(new InvalidClient('unknown_client').headers['www-authenticate']).toBe('Basic realm="caracal"');
    expect(new SlowDown('mint_rate_limited', 7).headers['retry-after']).toBe('7');
    expect(new InteractionRequired('approval_pending', 'pending', 'a1').extra).toEqual({ approval_id: 'a1' });
  });

  it('the same reason answers the same whatever class carries it', () => {
    expect(new InvalidClient('unknown_client').description).toBe(new InvalidClient('bad_client_secret').description);
  });
});
