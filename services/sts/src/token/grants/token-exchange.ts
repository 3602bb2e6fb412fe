// RFC 8693 token exchange (R-STS-1): a session (or gateway) mandate → a gateway mandate for one resource and a
// subset of the granted scopes, never outliving its session or delegation edge (R-STS-2).
import type { FastifyRequest } from 'fastify';
import { withZone, type PoolClient } from '@caracal/db';
import { scopesOf, UUID, type MandateClaims } from '@caracal/mandates';
import { hitRateLimit } from '@caracal/service-kit';
import { allows, evaluateContract, type DecisionInput } from '../../policy/contract.js';
import type { StsContext } from '../../context.js';
import { param, required, type Form } from '../form.js';
import { loadAuthorityContext } from '../authority-context.js';
import { ACCESS_TOKEN_TYPE, mint, tokenResponse } from '../mint.js';
import { authenticateClient } from '../client-auth.js';
import { accessDenied, invalidClient, invalidGrant, invalidRequest, invalidTarget, slowDown, unavailable } from '../oauth-errors.js';
import { requireApproval } from '../step-up.js';
import { verifySubject } from '../subject.js';

export const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

const RESOURCE_URI = /^resource:\/\/[a-z0-9][a-z0-9._-]*$/;

function optionalUuid(form: Form, name: string): string | undefined {
  const v = param(form, name);
  if (v !== undefined && !UUID.test(v)) throw invalidRequest(`parameter '${name}' must be a UUID`);
  return v;
}

function parse(form: Form) {
  if (form.has('actor_token') || form.has('actor_token_type')) throw invalidRequest('actor_token is not supported: delegation uses delegation_edge_id');
  if (form.has('audience')) throw invalidTarget("use 'resource' (RFC 8707) to name the target, not 'audience'");
  const subjectType = required(form, 'subject_token_type');
  if (subjectType !== ACCESS_TOKEN_TYPE) throw invalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  const requestedType = param(form, 'requested_token_type');
  if (requestedType !== undefined && requestedType !== ACCESS_TOKEN_TYPE) throw invalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  const resources = form.get('resource') ?? [];
  if (resources.length !== 1) throw invalidTarget('name exactly one resource per mandate');
  const resource = resources[0]!;
  if (!RESOURCE_URI.test(resource)) throw invalidTarget('resource must be a resource:// identifier (an absolute URI without query or fragment)');
  const scope = required(form, 'scope');
  const scopes = [...new Set(scope.split(' ').filter(Boolean))];
  if (scopes.length === 0 || scopes.some((s) => !/^[A-Za-z0-9:._/-]{1,128}$/.test(s))) throw invalidRequest('scope is malformed');
  const ttlRaw = param(form, 'ttl_seconds');
  if (ttlRaw !== undefined && !/^[1-9]\d{0,5}$/.test(ttlRaw)) throw invalidRequest('ttl_seconds must be a positive integer');
  return {
    subjectToken: required(form, 'subject_token'),
    resource,
    scopes,
    ttl: ttlRaw === undefined ? undefined : Number(ttlRaw),
    agentSessionId: optionalUuid(form, 'agent_session_id'),
    edgeId: optionalUuid(form, 'delegation_edge_id'),
    approvalId: optionalUuid(form, 'approval_id'),
  };
}

type Parsed = ReturnType<typeof parse>;

async function loadDelegation(c: PoolClient, p: Parsed) {
  if (!p.agentSessionId && !p.edgeId) return { agent: null, edge: null };
  if (!p.agentSessionId) throw accessDenied('a delegation edge needs agent_session_id', 'restriction_active');
  const agent = (await c.query('SELECT id, status, expires_at, application_id FROM agent_sessions WHERE id = $1', [p.agentSessionId])).rows[0];
  if (!agent) throw accessDenied('unknown agent session', 'agent_session_unknown');
  if (agent.status !== 'active' || agent.expires_at <= new Date()) throw accessDenied('the agent session is not active', 'lineage_revoked');
  if (!p.edgeId) return { agent, edge: null };
  const edge = (await c.query('SELECT id, source_session_id, target_session_id, scopes, path, hop_count, expires_at, revoked_at FROM delegation_edges WHERE id = $1', [p.edgeId])).rows[0];
  if (!edge || edge.target_session_id !== agent.id) throw accessDenied('unknown delegation edge for this agent session', 'delegation_unknown');
  if (edge.revoked_at || edge.expires_at <= new Date()) throw accessDenied('the delegation edge is revoked or expired', 'lineage_revoked');
  return { agent, edge };
}

export async function handleTokenExchange(ctx: StsContext, req: FastifyRequest, form: Form) {
  const p = parse(form);
  const subject: MandateClaims = await verifySubject(ctx, req, p.subjectToken);
  const zoneId = subject.zone_id;
  // Client authentication is optional here (the subject token authenticates), but credentials that are presented
  // must be valid and must belong to the subject's client.
  if (req.headers.authorization !== undefined || form.has('client_secret')) {
    const client = await authenticateClient(ctx, req, form);
    if (client.clientId !== subject.client_id) throw invalidClient('the authenticated client is not the subject token\'s client', 'client_mismatch');
  }
  req.auditZone = zoneId;
  req.auditDetail = { client_id: subject.client_id, resource: p.resource, subject: subject.sub };

  // The authority context (one round trip) and the rate limit (Redis) are independent: ask both at once.
  const [loaded, delegation, rate] = await Promise.all([
    loadAuthorityContext(ctx.deps.pool, zoneId, { sid: subject.sid, clientId: subject.client_id, agentSessionId: p.agentSessionId, delegationEdgeId: p.edgeId }, p.resource).catch(() => {
      throw unavailable('authority store unavailable', 'postgres_unavailable');
    }),
    p.agentSessionId || p.edgeId
      ? withZone(ctx.deps.pool, zoneId, (c) => loadDelegation(c, p)).catch((err) => {
          if (err instanceof Error && 'statusCode' in err) throw err;
          throw unavailable('authority store unavailable', 'postgres_unavailable');
        })
      : Promise.resolve({ agent: null, edge: null }),
    hitRateLimit(ctx.deps.redis, `${ctx.config.REDIS_KEY_PREFIX}caracal:rl:mint:${zoneId}:${p.resource}:${subject.client_id}`, ctx.config.MINTS_PER_MIN, 60).catch(() => {
      throw unavailable('rate limiter unavailable', 'redis_unavailable');
    }),
  ]);
  if (!loaded.lineage.ok) throw invalidGrant(`the subject token's lineage is not valid (${loaded.lineage.reason})`, loaded.lineage.reason);
  const { state } = loaded.lineage;
  req.auditDetail.application_id = state.applicationId;
  const rg = loaded.rg;
  if (!rg) throw invalidTarget(`unknown resource '${p.resource}'`, 'unknown_resource');
  if (delegation.agent && delegation.agent.application_id !== state.applicationId) throw accessDenied('unknown agent session', 'agent_session_unknown');
  const edge = delegation.edge;

  const input: DecisionInput = {
    schema_version: 1,
    principal: { type: p.agentSessionId ? 'agent_session' : 'application', id: state.applicationId, zone_id: zoneId, agent_session_id: p.agentSessionId ?? null, labels: [] },
    resource: rg.grant ? { id: rg.resourceId, identifier: rg.identifier, scopes: rg.grant.scopes } : null,
    action: { id: 'mint' },
    session: { id: subject.sid, expires_at: state.sessionExpiresAt.toISOString() },
    delegation_edge: edge ? { id: edge.id, source_session_id: edge.source_session_id, target_session_id: edge.target_session_id, scopes: edge.scopes, path: edge.path, expires_at: edge.expires_at.toISOString() } : null,
    context: { requested_scopes: p.scopes, request_id: req.id, subject_scopes: subject.use === 'gateway' ? scopesOf(subject) : undefined },
  };
  if (subject.use === 'gateway') {
    const aud = Array.isArray(subject.aud) ? subject.aud : [subject.aud];
    if (!aud.includes(p.resource)) throw accessDenied('a gateway mandate can only be narrowed for its own resource', 'mandate_target_mismatch');
  }
  const decision = evaluateContract(input);
  if (!allows(decision)) throw accessDenied(`denied: ${decision.reason}`, decision.reason);
  const approvalId = await requireApproval(ctx, {
    zoneId,
    applicationId: state.applicationId,
    resourceId: rg.resourceId,
    resource: rg.identifier,
    scopes: p.scopes,
    gated: rg.grant!.approvalScopes,
    sid: subject.sid,
    clientId: subject.client_id,
    approvalId: p.approvalId,
  });

  if (!rate.allowed) throw slowDown('mint rate limit exceeded for this resource', rate.retryAfterSeconds, 'mint_rate_limited');

  const now = Math.floor(Date.now() / 1000);
  const ceilings = [rg.grant!.maxTtlSeconds, Math.floor(state.sessionExpiresAt.getTime() / 1000) - now, subject.exp - now];
  if (edge) ceilings.push(Math.floor(edge.expires_at.getTime() / 1000) - now);
  const ttl = Math.min(p.ttl ?? ctx.config.RESOURCE_TTL_SECONDS, ...ceilings);
  if (ttl <= 0) throw invalidGrant('the lineage expires before a mandate could be used', 'session_expired');

  const signed = await mint(ctx, zoneId, {
    iss: ctx.issuer,
    sub: p.agentSessionId ?? subject.sub,
    aud: rg.identifier,
    zone_id: zoneId,
    client_id: subject.client_id,
    scope: p.scopes.join(' '),
    sid: subject.sid,
    use: 'gateway',
    ...(p.agentSessionId ? { agent_session_id: p.agentSessionId } : {}),
    ...(edge ? { delegation_edge_id: edge.id, delegation_chain: [...edge.path, edge.id], hop_count: edge.hop_count, act: { sub: edge.source_session_id } } : {}),
    ttlSeconds: ttl,
  });
  await ctx.emit({
    zone_id: zoneId,
    type: 'mandate.issued',
    decision: 'allow',
    reason: decision.reason,
    request_id: req.id,
    application_id: state.applicationId,
    client_id: subject.client_id,
    resource: rg.identifier,
    subject: signed.claims.sub,
    data: { use: 'gateway', sid: subject.sid, jti: signed.claims.jti, scope: signed.claims.scope, exp: signed.claims.exp, parent_jti: subject.jti, ...(approvalId ? { approval_id: approvalId } : {}) },
  });
  return tokenResponse(signed);
}
