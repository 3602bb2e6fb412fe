// Bootstrap grant (R-STS-1): client id + secret → a session mandate whose only scope is agent:lifecycle.
import type { FastifyRequest } from 'fastify';
import { allows, decisionInput, evaluateContract, LIFECYCLE_SCOPE } from '../../authority/index.js';
import type { StsContext } from '../../context.js';
import { authenticateClient } from '../client-auth.js';
import { param, type Form } from '../form.js';
import { mint, tokenResponse } from '../mint.js';
import { InvalidScope, orUnavailable } from '../oauth-errors.js';

export const GRANT_TYPE = 'client_credentials';

/** RFC 6749 §4.4.2 plus client_secret_post (§2.3.1); a resource is named later, at the exchange. */
export const PARAMETERS: ReadonlySet<string> = new Set(['client_id', 'client_secret', 'scope']);

export async function handle(ctx: StsContext, req: FastifyRequest, form: Form) {
  const client = await authenticateClient(ctx, req, form);
  req.auditDetail = { application_id: client.applicationId, client_id: client.clientId, subject: client.clientId };
  const requested = (param(form, 'scope') ?? LIFECYCLE_SCOPE).split(' ').filter(Boolean);
  const decision = evaluateContract(
    decisionInput({ action: { id: 'bootstrap' }, requestId: req.id, zoneId: client.zoneId, applicationId: client.applicationId, labels: client.labels, requestedScopes: requested }),
  );
  if (!allows(decision)) throw new InvalidScope('bootstrap_scope', `the bootstrap grant issues exactly '${LIFECYCLE_SCOPE}'`, decision.reason);

  const ttl = ctx.config.SESSION_TTL_SECONDS;
  const sid = await orUnavailable('postgres_unavailable', ctx.repo.createSession(client.zoneId, client.applicationId, ttl));
  const signed = await mint(ctx, client.zoneId, {
    iss: ctx.issuer,
    sub: client.clientId,
    aud: ctx.issuer,
    zone_id: client.zoneId,
    client_id: client.clientId,
    scope: LIFECYCLE_SCOPE,
    sid,
    use: 'session',
    ttlSeconds: ttl,
  });
  await ctx.emit({
    zone_id: client.zoneId,
    type: 'mandate.issued',
    decision: 'allow',
    reason: decision.reason,
    request_id: req.id,
    application_id: client.applicationId,
    client_id: client.clientId,
    subject: client.clientId,
    data: { use: 'session', sid, jti: signed.claims.jti, scope: LIFECYCLE_SCOPE, exp: signed.claims.exp },
  });
  return tokenResponse(signed);
}
