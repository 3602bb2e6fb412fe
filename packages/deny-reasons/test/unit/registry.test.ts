// The registry fixes every reason's status per surface; these pin the answers clients and tests rely on.
import { describe, expect, it } from 'vitest';
import { answerFor, answerForAny, DENY_REASONS, DenyError, isDenyReason, type DenyReason } from '../../src/index.js';

describe('deny reason registry', () => {
  it('answers a bad mandate with invalid_grant at the STS and 401 invalid_token at a resource', () => {
    for (const reason of ['token_expired', 'lineage_revoked', 'token_replayed', 'subject_not_exchangeable', 'lifetime_exceeded'] as DenyReason[]) {
      expect(answerFor(reason, 'token')).toEqual({ status: 400, error: 'invalid_grant' });
      expect(answerFor(reason, 'resource')).toEqual({ status: 401, error: 'invalid_token' });
    }
  });

  it('answers a contract deny with 403 on both surfaces', () => {
    for (const reason of ['role_scope_mismatch', 'no_rule_matched', 'mandate_target_mismatch'] as DenyReason[]) {
      expect(answerFor(reason, 'token')).toEqual({ status: 403, error: 'access_denied' });
      expect(answerFor(reason, 'resource')).toEqual({ status: 403, error: 'insufficient_scope' });
    }
  });

  it('answers a dead delegation with invalid_grant and a suspended or too long one with access_denied at the STS', () => {
    for (const reason of ['delegation_revoked', 'delegation_expired', 'agent_session_expired', 'agent_session_ended'] as DenyReason[]) {
      expect(answerFor(reason, 'token')).toEqual({ status: 400, error: 'invalid_grant' });
    }
    for (const reason of ['agent_session_suspended', 'hop_limit_exceeded', 'delegation_scope_exceeded'] as DenyReason[]) {
      expect(answerFor(reason, 'token')).toEqual({ status: 403, error: 'access_denied' });
    }
  });

  it('answers every outage with 503 temporarily_unavailable', () => {
    const outages = (Object.keys(DENY_REASONS) as DenyReason[]).filter((k) => DENY_REASONS[k].class === 'unavailable');
    expect(outages.length).toBeGreaterThan(5);
    for (const reason of outages) {
      expect(answerFor(reason, 'token')).toEqual({ status: 503, error: 'temporarily_unavailable' });
      expect(answerFor(reason, 'resource')).toEqual({ status: 503, error: 'temporarily_unavailable' });
    }
  });

  it('treats an unknown reason from another service as forbidden, never as a 2xx or a 401', () => {
    expect(isDenyReason('made_up')).toBe(false);
    expect(isDenyReason('toString')).toBe(false);
    expect(answerForAny('made_up', 'resource')).toEqual({ status: 403, error: 'insufficient_scope' });
  });

  it('keeps the logged detail out of the public description', () => {
    const err = new DenyError('bad_client_secret', 'token', undefined, 'client 123 sent a wrong secret');
    expect(err.statusCode).toBe(401);
    expect(err.error).toBe('invalid_client');
    expect(err.description).toBe('client authentication failed');
    expect(err.detail).toBe('client 123 sent a wrong secret');
    expect(err.reason).toBe('bad_client_secret');
  });
});
