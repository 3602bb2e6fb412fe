// The one builder of the decision input (R-POL-1, §8) for every action the STS decides: bootstrap, mint and
// gateway use. Handlers gather facts; only this function shapes them, so the two paths cannot drift apart.
import type { DecisionInput } from '@caracal/policy';
import type { DelegationEdgeRow } from './repository.js';
import type { ResourceGrant } from './resource-grant.js';

export interface DecisionFacts {
  action: DecisionInput['action'];
  requestId: string;
  zoneId: string;
  applicationId: string;
  labels?: string[];
  agentSessionId?: string | null;
  /** The targeted resource and the application's grant on it; undefined when the action has no resource. */
  resource?: ResourceGrant;
  session?: { id: string; expiresAt: Date } | null;
  edge?: DelegationEdgeRow | null;
  requestedScopes: string[];
  audience?: string[];
  requiredScope?: string | null;
}

export function decisionInput(f: DecisionFacts): DecisionInput {
  const rg = f.resource;
  const edge = f.edge ?? null;
  return {
    schema_version: 1,
    principal: { type: f.agentSessionId ? 'agent_session' : 'application', id: f.applicationId, zone_id: f.zoneId, agent_session_id: f.agentSessionId ?? null, labels: f.labels ?? [] },
    resource: rg?.grant ? { id: rg.resourceId, identifier: rg.identifier, scopes: rg.grant.scopes } : null,
    action: f.action,
    session: f.session ? { id: f.session.id, expires_at: f.session.expiresAt.toISOString() } : null,
    delegation_edge: edge
      ? { id: edge.id, source_session_id: edge.source_session_id, target_session_id: edge.target_session_id, scopes: edge.scopes, path: edge.path, expires_at: edge.expires_at.toISOString() }
      : null,
    context: {
      requested_scopes: f.requestedScopes,
      request_id: f.requestId,
      ...(f.audience ? { audience: f.audience } : {}),
      ...(f.requiredScope !== undefined ? { required_scope: f.requiredScope } : {}),
    },
  };
}
