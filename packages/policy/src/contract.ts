// The platform decision contract (R-POL-1, R-POL-2): always evaluated, deny by default, named reasons.
// Zone policy sets (R-POL-3) can only narrow what this allows. Deny reasons are names from the shared registry.
import type { DenyReason } from '@caracal/deny-reasons';

export interface DecisionInput {
  schema_version: 1;
  principal: { type: 'application' | 'agent_session'; id: string; zone_id: string; agent_session_id: string | null; labels: string[] };
  resource: { id: string; identifier: string; scopes: string[] } | null;
  action: { id: 'bootstrap' | 'mint' | 'gateway_use'; method?: string; path?: string };
  session: { id: string; expires_at: string } | null;
  delegation_edge: { id: string; source_session_id: string; target_session_id: string; scopes: string[]; path: string[]; expires_at: string } | null;
  context: { requested_scopes: string[]; request_id: string; subject_scopes?: string[]; audience?: string[]; required_scope?: string | null };
}

interface Outcome {
  evaluation_status: 'complete' | 'partial' | 'error';
  determining_policies: string[];
  diagnostics: string[];
}

export type DecisionResult = Outcome & ({ decision: 'deny'; reason: DenyReason } | { decision: 'allow'; reason: 'bootstrap' | 'granted' | 'operation_allowed' });

const deny = (reason: DenyReason, diagnostics: string[] = []): DecisionResult => ({
  decision: 'deny',
  evaluation_status: 'complete',
  determining_policies: ['caracal.contract'],
  diagnostics,
  reason,
});
const allow = (reason: 'bootstrap' | 'granted' | 'operation_allowed'): DecisionResult => ({ decision: 'allow', evaluation_status: 'complete', determining_policies: ['caracal.contract'], diagnostics: [], reason });

const subset = (a: readonly string[], b: readonly string[]) => a.every((x) => b.includes(x));

export const LIFECYCLE_SCOPE = 'agent:lifecycle';

export function evaluateContract(input: DecisionInput): DecisionResult {
  const requested = input.context.requested_scopes;
  switch (input.action.id) {
    case 'bootstrap':
      // A bootstrap mandate carries exactly agent:lifecycle and nothing inherited.
      if (requested.length !== 1 || requested[0] !== LIFECYCLE_SCOPE) return deny('role_scope_mismatch', [`bootstrap scope must be exactly ${LIFECYCLE_SCOPE}`]);
      if (input.delegation_edge || input.principal.agent_session_id) return deny('restriction_active', ['bootstrap takes no subject or delegation']);
      return allow('bootstrap');
    case 'mint': {
      if (!input.resource) return deny('resource_not_granted');
      if (requested.length === 0) return deny('no_rule_matched', ['no scope requested']);
      if (requested.includes(LIFECYCLE_SCOPE)) return deny('role_scope_mismatch', [`${LIFECYCLE_SCOPE} is never granted on a resource`]);
      if (input.context.subject_scopes && !subset(requested, input.context.subject_scopes)) return deny('scope_widening', ['requested scopes exceed the subject token']);
      if (input.delegation_edge) {
        if (!input.principal.agent_session_id) return deny('restriction_active', ['a delegation edge needs an agent session']);
        if (!subset(requested, input.delegation_edge.scopes)) return deny('delegation_scope_exceeded');
        if (!subset(input.delegation_edge.scopes, input.resource.scopes)) return deny('delegation_scope_exceeded', ['the edge exceeds the grant']);
      }
      if (!subset(requested, input.resource.scopes)) return deny('role_scope_mismatch', ['requested scopes are not granted']);
      return allow('granted');
    }
    case 'gateway_use': {
      if (!input.resource) return deny('resource_not_granted');
      if (!input.context.audience?.includes(input.resource.identifier)) return deny('mandate_target_mismatch');
      if (!subset(requested, input.resource.scopes)) return deny('role_scope_mismatch', ['the mandate scopes are no longer granted']);
      if (!input.context.required_scope) return deny('no_rule_matched', [`no operation matches ${input.action.method} ${input.action.path}`]);
      if (!requested.includes(input.context.required_scope)) return deny('role_scope_mismatch', [`operation needs ${input.context.required_scope}`]);
      return allow('operation_allowed');
    }
    default:
      return { ...deny('no_rule_matched'), evaluation_status: 'error' };
  }
}

/** Only a complete allow allows (R-POL-1). */
export const allows = (r: DecisionResult) => r.decision === 'allow' && r.evaluation_status === 'complete';
