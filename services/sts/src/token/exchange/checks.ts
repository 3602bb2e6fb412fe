// The checks of a token exchange, in the order they run (R-STS-1..5): each is small and named, fills in the
// state, and refuses with a typed error from the registry. The grant file lists them; nothing else decides.
import type { FastifyRequest } from 'fastify';
import type { MandateClaims } from '@caracal/mandates';
import type { RateVerdict } from '@caracal/service-kit';
import {
  allows,
  decisionInput,
  evaluateContract,
  type AuthorityContext,
  type DecisionInput,
  type DecisionResult,
  type DelegationEdgeRow,
  type DelegationGraph,
  type LineageState,
  type ResourceGrant,
} from '../../authority/index.js';
import type { StsContext } from '../../context.js';
import type { PolicyDecision } from '@caracal/policy';
import { authenticateClient } from '../client-auth.js';
import type { Form } from '../form.js';
import { AccessDenied, InvalidClient, InvalidGrant, InvalidTarget, isReasonOf, orUnavailable, SlowDown } from '../oauth-errors.js';
import { requireApproval } from '../step-up.js';
import { verifySubject } from '../subject.js';
import { judgeDelegation } from './delegation.js';
import { readExchangeRequest, type ExchangeRequest } from './request.js';

/** Filled in by the checks, in order; a later check may rely on what an earlier one set. */
export interface ExchangeState {
  ctx: StsContext;
  req: FastifyRequest;
  form: Form;
  request: ExchangeRequest;
  subject: MandateClaims;
  loaded: AuthorityContext;
  delegation: DelegationGraph | undefined;
  rate: RateVerdict;
  lineage: LineageState;
  rg: ResourceGrant;
  /** The grant, once the contract allowed the mint. */
  grant: NonNullable<ResourceGrant['grant']>;
  edge: DelegationEdgeRow | null;
  /** The edges from the root down to `edge`, root first; empty without an edge. */
  chain: DelegationEdgeRow[];
  input: DecisionInput;
  decision: DecisionResult;
  /** The zone policy sets' decision, once the contract allowed (an allow with nothing to say when none is active). */
  policy: PolicyDecision;
  approvalId: string | undefined;
  ttl: number;
  /** The application's labels, read with the context when the zone has active policy sets. */
  labels: string[] | undefined;
  /** The `iat` the lifetime was computed from (seconds). */
  issuedAt: number;
}

export function parseRequest(s: ExchangeState): void {
  s.request = readExchangeRequest(s.form);
}

export async function verifySubjectToken(s: ExchangeState): Promise<void> {
  s.subject = await verifySubject(s.ctx, s.req, s.request.subjectToken);
  // Object.assign: V8 builds `{ ...detail, resource }` many times slower.
  s.req.auditDetail = Object.assign({}, s.req.auditDetail, { resource: s.request.resource });
}

/** Client authentication is optional (the subject authenticates), but presented credentials must hold and match. */
export async function authenticatePresentedClient(s: ExchangeState): Promise<void> {
  if (s.req.headers.authorization === undefined && !s.form.has('client_secret')) return;
  const client = await authenticateClient(s.ctx, s.req, s.form);
  s.req.auditZone = s.subject.zone_id;
  if (client.clientId !== s.subject.client_id) throw new InvalidClient('client_mismatch');
}

/** The authority context with (for a delegated mint) its graph, one round trip, and the mint rate: asked at once. */
export async function loadAuthority(s: ExchangeState): Promise<void> {
  const { ctx, request: p, subject } = s;
  const zoneId = subject.zone_id;
  // The subject's own lineage here; the agent session, the edge and all above them are judged from the graph.
  const lineage = { sid: subject.sid, clientId: subject.client_id };
  // A delegated mint's graph, and the application's labels when the zone has active policy sets, come in the same
  // round trip as the context.
  const authority = async () => {
    const labels = await orUnavailable('policy_store_unavailable', () => ctx.policies.active(zoneId));
    const graph = p.agentSessionId ? { agentSessionId: p.agentSessionId, edgeId: p.edgeId } : undefined;
    return orUnavailable('postgres_unavailable', () => ctx.repo.contextWith(zoneId, lineage, p.resource, { labels, graph }));
  };
  let loaded: Awaited<ReturnType<typeof authority>>;
  [loaded, s.rate] = await Promise.all([
    authority(),
    orUnavailable('rate_limiter_unavailable', () => ctx.limits.mint(zoneId, p.resource, subject.client_id, ctx.config.MINTS_PER_MIN)),
  ]);
  s.loaded = loaded.context;
  s.delegation = loaded.graph;
  s.labels = loaded.labels;
}

export function checkLineage(s: ExchangeState): void {
  const l = s.loaded.lineage;
  if (!l.ok) throw new InvalidGrant(l.reason, `the subject token's lineage is not valid (${l.reason})`);
  s.lineage = l.state;
  s.req.auditDetail = Object.assign({}, s.req.auditDetail, { application_id: l.state.applicationId });
}

export function checkTarget(s: ExchangeState): void {
  const rg = s.loaded.rg;
  if (!rg) throw new InvalidTarget(`unknown resource '${s.request.resource}'`, 'unknown_resource');
  s.rg = rg;
}

/** An agent session must be the application's own, an edge must lead to it, and everything above both be live (R-STS-6). */
export function checkDelegation(s: ExchangeState): void {
  const { request: p } = s;
  s.edge = null;
  s.chain = [];
  if (!p.agentSessionId) {
    if (p.edgeId) throw new AccessDenied('restriction_active', 'a delegation edge needs agent_session_id');
    return;
  }
  s.chain = judgeDelegation(s.delegation!, s.lineage.applicationId, p.edgeId);
  s.edge = s.chain.at(-1) ?? null;
}

export function evaluate(s: ExchangeState): void {
  const { subject, request: p } = s;
  s.input = decisionInput({
    action: { id: 'mint' },
    requestId: s.req.id,
    zoneId: subject.zone_id,
    applicationId: s.lineage.applicationId,
    agentSessionId: p.agentSessionId,
    resource: s.rg,
    session: { id: subject.sid, expiresAt: s.lineage.sessionExpiresAt },
    edge: s.edge,
    requestedScopes: p.scopes,
  });
  s.decision = evaluateContract(s.input);
  const d = s.decision;
  if (!allows(d) || !s.rg.grant) throw new AccessDenied(isReasonOf(d.reason, 'forbidden') ? d.reason : 'no_rule_matched', `denied: ${d.reason}`);
  s.grant = s.rg.grant;
}

/**
 * The zone's active policy sets, on what the contract allowed (R-POL-3): every one must answer a complete allow.
 * A set that denies or cannot decide denies (403); a policy store that cannot be read fails closed (503).
 */
export async function evaluatePolicySets(s: ExchangeState): Promise<void> {
  s.policy = await orUnavailable('policy_store_unavailable', () => s.ctx.policies.decide(s.subject.zone_id, s.input, new Date(), s.labels));
  const { allow, reason, determining_policies, diagnostics } = s.policy;
  if (allow) return;
  s.req.auditDecision = { evaluation_status: reason === 'policy_error' ? 'error' : 'complete', determining_policies, diagnostics };
  throw new AccessDenied(reason!, undefined, diagnostics.join('; '));
}

export async function stepUp(s: ExchangeState): Promise<void> {
  s.approvalId = await requireApproval(s.ctx, {
    zoneId: s.subject.zone_id,
    applicationId: s.lineage.applicationId,
    resourceId: s.rg.resourceId,
    resource: s.rg.identifier,
    scopes: s.request.scopes,
    gated: [...s.grant.approvalScopes, ...s.policy.stepUp],
    sid: s.subject.sid,
    clientId: s.subject.client_id,
    approvalId: s.request.approvalId,
  });
}

export function checkMintRate(s: ExchangeState): void {
  if (!s.rate.allowed) throw new SlowDown('mint_rate_limited', s.rate.retryAfterSeconds);
}

/**
 * Never outlive the grant's maximum, the session, the subject token, any agent session above or any edge of the chain
 * (R-STS-2). The clock is read once: the mandate is signed with this `iat`, so `exp` never passes a ceiling read here.
 */
export function computeLifetime(s: ExchangeState): void {
  const now = Math.floor(Date.now() / 1000);
  const left = (d: Date) => Math.floor(d.getTime() / 1000) - now;
  const ceilings = [s.grant.maxTtlSeconds, left(s.lineage.sessionExpiresAt), s.subject.exp - now];
  if (s.request.agentSessionId) ceilings.push(...[s.delegation!.agent!, ...s.delegation!.sessions].map((a) => left(a.expires_at)));
  ceilings.push(...s.chain.map((e) => left(e.expires_at)));
  s.issuedAt = now;
  s.ttl = Math.min(s.request.ttl ?? s.ctx.config.RESOURCE_TTL_SECONDS, ...ceilings);
  if (s.ttl <= 0) throw new InvalidGrant('session_expired', 'the lineage expires before a mandate could be used');
}
