// RFC 8693 token exchange (R-STS-1): a session mandate → a gateway mandate for one resource and a subset of the
// granted scopes, never outliving its session or delegation edge (R-STS-2). The order of the checks is the policy.
import type { FastifyRequest } from 'fastify';
import { nestedActor } from '@caracal/mandates';
import { runChecks, type DelegationEdgeRow } from '../../authority/index.js';
import type { StsContext } from '../../context.js';
import * as c from '../exchange/checks.js';
import type { Form } from '../form.js';
import { mint, tokenResponse } from '../mint.js';

export const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** RFC 8693 §2.1 and RFC 8707 §2, plus Caracal's delegation and step-up parameters and optional client auth. */
export const PARAMETERS: ReadonlySet<string> = new Set([
  'subject_token',
  'subject_token_type',
  'requested_token_type',
  'actor_token',
  'actor_token_type',
  'audience',
  'resource',
  'scope',
  'ttl_seconds',
  'agent_session_id',
  'delegation_edge_id',
  'approval_id',
  'client_id',
  'client_secret',
]);

const CHECKS = [
  c.parseRequest,
  c.verifySubjectToken,
  c.authenticatePresentedClient,
  c.loadAuthority,
  c.checkLineage,
  c.checkTarget,
  c.checkDelegation,
  c.evaluate,
  c.evaluatePolicySets,
  c.stepUp,
  c.checkMintRate,
  c.computeLifetime,
] as const;

/**
 * The delegation a mandate records: the chain of edges and their source sessions (what revocation checks read), its
 * hop count, and RFC 8693 §4.1 subject and actors: `sub` is the root source session, whose authority the chain
 * carries, and `act` names who acted on it, the current actor (the minting agent session) outermost and each earlier
 * delegate nested inside. Decisions read `agent_session_id` and the chain, never `act`.
 */
function delegationClaims(agentSessionId: string, edge: DelegationEdgeRow, chain: readonly DelegationEdgeRow[]) {
  const sources = chain.map((e) => e.source_session_id);
  return {
    sub: sources[0]!,
    delegation_edge_id: edge.id,
    delegation_chain: chain.map((e) => e.id),
    agent_session_chain: sources,
    hop_count: edge.hop_count,
    act: nestedActor([...sources.slice(1), agentSessionId]),
  };
}

/** What the audit event records of the zone policy sets that allowed the mint, when the zone has any (R-POL-1). */
function policyRecord(s: c.ExchangeState) {
  const { determining_policies, diagnostics } = s.policy;
  return determining_policies.length > 0 ? { determining_policies: [...s.decision.determining_policies, ...determining_policies], diagnostics } : {};
}

export async function handle(ctx: StsContext, req: FastifyRequest, form: Form) {
  const s = { ctx, req, form } as c.ExchangeState;
  await runChecks<c.ExchangeState, never>(CHECKS, s);
  const { subject, request: p, edge, chain, rg } = s;
  const signed = await mint(ctx, subject.zone_id, {
    iss: ctx.issuer,
    sub: p.agentSessionId ?? subject.sub,
    aud: rg.identifier,
    zone_id: subject.zone_id,
    client_id: subject.client_id,
    scope: p.scopes.join(' '),
    sid: subject.sid,
    use: 'gateway',
    ...(p.agentSessionId ? { agent_session_id: p.agentSessionId } : {}),
    ...(edge ? delegationClaims(p.agentSessionId!, edge, chain) : {}),
    ttlSeconds: s.ttl,
  }, s.issuedAt);
  await ctx.emit({
    zone_id: subject.zone_id,
    type: 'mandate.issued',
    decision: 'allow',
    reason: s.decision.reason,
    request_id: req.id,
    application_id: s.lineage.applicationId,
    client_id: subject.client_id,
    resource: rg.identifier,
    subject: signed.claims.sub,
    data: {
      use: 'gateway',
      sid: subject.sid,
      jti: signed.claims.jti,
      scope: signed.claims.scope,
      exp: signed.claims.exp,
      parent_jti: subject.jti,
      ...(p.agentSessionId ? { agent_session_id: p.agentSessionId } : {}),
      ...(edge ? { delegation_edge_id: edge.id } : {}),
      ...(s.approvalId ? { approval_id: s.approvalId } : {}),
      ...policyRecord(s),
    },
  });
  return tokenResponse(signed);
}
