// The platform decision contract (R-POL-1, R-POL-2): deny by default, named reasons, only complete+allow allows.
import { describe, expect, it } from 'vitest';
import { allows, evaluateContract, type DecisionInput } from '../../src/contract.js';

const base: DecisionInput = {
  schema_version: 1,
  principal: { type: 'application', id: 'app', zone_id: 'z', agent_session_id: null, labels: [] },
  resource: { id: 'r', identifier: 'resource://r', scopes: ['read', 'write'] },
  action: { id: 'mint' },
  session: { id: 's', expires_at: '2100-01-01T00:00:00Z' },
  delegation_edge: null,
  context: { requested_scopes: ['read'], request_id: 'q' },
};
const edge = { id: 'e', source_session_id: 'a', target_session_id: 'b', scopes: ['read'], path: [], expires_at: '2100-01-01T00:00:00Z' };

describe('decision contract', () => {
  it.each<[string, Partial<DecisionInput>, string, boolean]>([
    ['a granted subset', {}, 'granted', true],
    ['no grant', { resource: null }, 'resource_not_granted', false],
    ['a scope beyond the grant', { context: { requested_scopes: ['admin'], request_id: 'q' } }, 'role_scope_mismatch', false],
    ['nothing requested', { context: { requested_scopes: [], request_id: 'q' } }, 'no_rule_matched', false],
    ['agent:lifecycle on a resource', { context: { requested_scopes: ['agent:lifecycle'], request_id: 'q' } }, 'role_scope_mismatch', false],
    ['widening a subject token', { context: { requested_scopes: ['read', 'write'], subject_scopes: ['read'], request_id: 'q' } }, 'scope_widening', false],
    ['an edge without an agent session', { delegation_edge: edge }, 'restriction_active', false],
    ['beyond the edge', { delegation_edge: edge, principal: { ...base.principal, agent_session_id: 'b' }, context: { requested_scopes: ['write'], request_id: 'q' } }, 'delegation_scope_exceeded', false],
    ['within the edge', { delegation_edge: edge, principal: { ...base.principal, agent_session_id: 'b' } }, 'granted', true],
    ['an edge wider than the grant', { delegation_edge: { ...edge, scopes: ['read', 'delete'] }, principal: { ...base.principal, agent_session_id: 'b' } }, 'delegation_scope_exceeded', false],
  ])('mint: %s', (_n, change, reason, allowed) => {
    const r = evaluateContract({ ...base, ...change });
    expect(r.reason).toBe(reason);
    expect(allows(r)).toBe(allowed);
  });

  it.each<[string[], string, boolean]>([
    [['agent:lifecycle'], 'bootstrap', true],
    [['agent:lifecycle', 'read'], 'role_scope_mismatch', false],
    [['read'], 'role_scope_mismatch', false],
    [[], 'role_scope_mismatch', false],
  ])('bootstrap %j', (scopes, reason, allowed) => {
    const r = evaluateContract({ ...base, resource: null, action: { id: 'bootstrap' }, context: { requested_scopes: scopes, request_id: 'q' } });
    expect([r.reason, allows(r)]).toEqual([reason, allowed]);
  });

  it.each<[Partial<DecisionInput['context']>, string, boolean]>([
    [{ audience: ['resource://r'], required_scope: 'read' }, 'operation_allowed', true],
    [{ audience: ['resource://other'], required_scope: 'read' }, 'mandate_target_mismatch', false],
    [{ audience: ['resource://r'], required_scope: null }, 'no_rule_matched', false],
    [{ audience: ['resource://r'], required_scope: 'write' }, 'role_scope_mismatch', false],
  ])('gateway use %j', (ctx, reason, allowed) => {
    const r = evaluateContract({ ...base, action: { id: 'gateway_use', method: 'GET', path: '/x' }, context: { requested_scopes: ['read'], request_id: 'q', ...ctx } });
    expect([r.reason, allows(r)]).toEqual([reason, allowed]);
  });

  it('a grant that shrank after minting denies gateway use', () => {
    const r = evaluateContract({ ...base, resource: { ...base.resource!, scopes: ['write'] }, action: { id: 'gateway_use' }, context: { requested_scopes: ['read'], request_id: 'q', audience: ['resource://r'], required_scope: 'read' } });
    expect(r.reason).toBe('role_scope_mismatch');
  });

  it('anything but complete+allow denies', () => {
    expect(allows({ decision: 'allow', evaluation_status: 'partial', determining_policies: [], diagnostics: [], reason: 'granted' })).toBe(false);
    expect(allows({ decision: 'deny', evaluation_status: 'complete', determining_policies: [], diagnostics: [], reason: 'no_rule_matched' })).toBe(false);
    const unknown = evaluateContract({ ...base, action: { id: 'other' as 'mint' } });
    expect([unknown.decision, unknown.evaluation_status]).toEqual(['deny', 'error']);
  });
});
