// The checks of the gateway's re-exchange (R-GW-2), in order: the gateway's request signature and single-use
// nonce, then the caller's mandate, its lineage, the contract for this operation, and the upstream credential.
// Policy denials are verdicts (data, named by the registry); a dependency failure throws 503 (fail closed).
import type { FastifyRequest } from 'fastify';
import type { DenyReason } from '@caracal/deny-reasons';
import { verifyRequest } from '@caracal/internal-auth';
import { lineageIds, scopesOf, verifyMandate, type MandateClaims } from '@caracal/mandates';
import { unseal } from '@caracal/seal';
import { ServiceError, ServiceUnavailable } from '@caracal/service-kit';
import { allows, decisionInput, evaluateContract, requiredScope, type AuthorityContext, type DecisionResult, type LineageState } from '../authority/index.js';
import type { StsContext } from '../context.js';

export const AUTHORIZE_PATH = '/internal/v1/gateway/authorize';

export interface AuthorizeBody {
  token: string;
  resource: string;
  method: string;
  path: string;
}

export interface AuthorizeState {
  ctx: StsContext;
  req: FastifyRequest<{ Body: AuthorizeBody }>;
  claims: MandateClaims;
  loaded: AuthorityContext;
  lineage: LineageState;
  decision: DecisionResult;
  credential: string | null;
}

export type Denial = { reason: DenyReason };

/** A dependency failure on this path answers 503 (fail closed); the gateway then refuses the call. */
async function orUnavailable<T>(what: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch {
    throw new ServiceUnavailable(what);
  }
}

export function checkSignature(s: AuthorizeState): void {
  const key = s.ctx.config.GATEWAY_STS_HMAC_KEY;
  if (!key) throw new ServiceUnavailable('GATEWAY_STS_HMAC_KEY is not configured');
  const sig = verifyRequest(s.req.headers, { key, method: 'POST', path: AUTHORIZE_PATH, body: s.req.rawBody ?? Buffer.alloc(0) });
  if (!sig.ok) throw new ServiceError(401, 'invalid_signature', `gateway signature refused (${sig.reason})`);
  s.req.gatewayNonce = sig.nonce;
}

export async function claimNonce(s: AuthorizeState): Promise<void> {
  const fresh = await orUnavailable('nonce registry unavailable', s.ctx.limits.claimGatewayNonce(s.req.gatewayNonce!));
  if (!fresh) throw new ServiceError(401, 'invalid_signature', 'gateway signature refused (nonce_replayed)');
}

export async function verifyCallerMandate(s: AuthorizeState): Promise<Denial | void> {
  const { ctx } = s;
  const verified = await verifyMandate(s.req.body.token, { resolveKey: (z, k) => ctx.keys.verifyKey(z, k), verified: ctx.issuedSignatures, issuer: ctx.issuer, use: 'gateway' });
  if (!verified.ok) {
    if (verified.reason === 'key_unavailable') throw new ServiceUnavailable('signing keys unavailable');
    return { reason: verified.reason };
  }
  s.claims = verified.claims;
}

export async function loadAuthority(s: AuthorizeState): Promise<void> {
  const c = s.claims;
  // Every record of the signed delegation chain counts: a revoked ancestor edge or session revokes this mandate.
  const lineage = { sid: c.sid, clientId: c.client_id, agentSessionId: c.agent_session_id, delegationEdgeId: c.delegation_edge_id, ancestors: lineageIds(c) };
  s.loaded = await orUnavailable('authority store unavailable', s.ctx.repo.context(c.zone_id, lineage, s.req.body.resource));
}

export function checkLineage(s: AuthorizeState): Denial | void {
  const l = s.loaded.lineage;
  if (!l.ok) return { reason: l.reason };
  s.lineage = l.state;
}

export function evaluate(s: AuthorizeState): Denial | void {
  const { claims, req } = s;
  const rg = s.loaded.rg;
  s.decision = evaluateContract(
    decisionInput({
      action: { id: 'gateway_use', method: req.body.method, path: req.body.path },
      requestId: req.id,
      zoneId: claims.zone_id,
      applicationId: s.lineage.applicationId,
      agentSessionId: claims.agent_session_id,
      resource: rg,
      requestedScopes: scopesOf(claims),
      audience: Array.isArray(claims.aud) ? claims.aud : [claims.aud],
      requiredScope: rg ? requiredScope(rg.operations, req.body.method, req.body.path) : null,
    }),
  );
  if (s.decision.decision === 'deny') return { reason: s.decision.reason };
  if (!allows(s.decision) || !rg) return { reason: 'no_rule_matched' };
}

/** A credential that does not open is never forwarded in any form. */
export function openCredential(s: AuthorizeState): Denial | void {
  const rg = s.loaded.rg!;
  s.credential = null;
  if (!rg.credentialSealed) return;
  const kek = s.ctx.config.SECRET_STORE_KEK;
  if (!kek) throw new ServiceUnavailable('SECRET_STORE_KEK is not configured');
  try {
    s.credential = unseal(kek, rg.credentialSealed, `resource-credential:${s.claims.zone_id}:${rg.resourceId}`).toString('utf8');
  } catch {
    return { reason: 'credential_unavailable' };
  }
}

export const AUTHORIZE_CHECKS = [checkSignature, claimNonce, verifyCallerMandate, loadAuthority, checkLineage, evaluate, openCredential] as const;

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
    gatewayNonce?: string;
  }
}
