// Bootstrap grant (R-STS-1): client id + secret → a session mandate whose only scope is agent:lifecycle.
import type { FastifyRequest } from 'fastify';
import { withZone } from '@caracal/db';
import { allows, evaluateContract, LIFECYCLE_SCOPE } from '../../policy/contract.js';
import type { StsContext } from '../../context.js';
import { authenticateClient } from '../client-auth.js';
import { param, type Form } from '../form.js';
import { mint, tokenResponse } from '../mint.js';
import { invalidRequest, invalidScope, unavailable } from '../oauth-errors.js';

export const GRANT_TYPE = 'client_credentials';

export async function handleClientCredentials(ctx: StsContext, req: FastifyRequest, form: Form) {
  if (form.has('resource')) throw invalidRequest("'resource' does not apply to the bootstrap grant; exchange the session mandate instead");
  if (form.has('subject_token') || form.has('actor_token')) throw invalidRequest('the bootstrap grant takes no subject or actor token');
  const client = await authenticateClient(ctx, req, form);
  req.auditDetail = { application_id: client.applicationId, client_id: client.clientId, subject: client.clientId };
  const requested = (param(form, 'scope') ?? LIFECYCLE_SCOPE).split(' ').filter(Boolean);
  const decision = evaluateContract({
    schema_version: 1,
    principal: { type: 'application', id: client.applicationId, zone_id: client.zoneId, agent_session_id: null, labels: client.labels },
    resource: null,
    action: { id: 'bootstrap' },
    session: null,
    delegation_edge: null,
    context: { requested_scopes: requested, request_id: req.id },
  });
  if (!allows(decision)) throw invalidScope(`the bootstrap grant issues exactly '${LIFECYCLE_SCOPE}'`, decision.reason);

  const ttl = ctx.config.SESSION_TTL_SECONDS;
  let sid: string;
  try {
    sid = await withZone(ctx.deps.pool, client.zoneId, async (c) =>
      (
        await c.query<{ id: string }>("INSERT INTO authority_sessions (zone_id, application_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING id", [
          client.zoneId,
          client.applicationId,
          ttl,
        ])
      ).rows[0]!.id,
    );
  } catch {
    throw unavailable('session store unavailable', 'postgres_unavailable');
  }
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
