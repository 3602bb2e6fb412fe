// The control grant (R-CTL-1): a session mandate → a control mandate (use `control`, audience `caracal-control`) for
// the API's control endpoint. Only an application granted scopes on the reserved resource `resource://caracal-control`
// gets one, and only for `control:<command>:<read|write|delete>` scopes of that grant. Nothing else mints this use.
import type { FastifyRequest } from 'fastify';
import type { StsContext } from '../../context.js';
import { param, required, type Form } from '../form.js';
import { ACCESS_TOKEN_TYPE, mint, tokenResponse } from '../mint.js';
import { AccessDenied, InvalidGrant, InvalidRequest, InvalidScope, orUnavailable } from '../oauth-errors.js';
import { verifySubject } from '../subject.js';

export const GRANT_TYPE = 'urn:caracal:params:oauth:grant-type:control';

export const PARAMETERS: ReadonlySet<string> = new Set(['subject_token', 'subject_token_type', 'scope']);

/** The resource whose grants say which control commands an application may run. */
export const CONTROL_RESOURCE = 'resource://caracal-control';
export const CONTROL_AUDIENCE = 'caracal-control';
/** A control mandate is for one call: it lives at most this long. */
export const CONTROL_TTL_SECONDS = 300;

const CONTROL_SCOPE = /^control:[a-z][a-z0-9_.-]{0,62}:(read|write|delete)$/;

function requestedScopes(form: Form): string[] {
  const scopes = [...new Set((param(form, 'scope') ?? '').split(' ').filter(Boolean))];
  if (scopes.length === 0 || scopes.some((x) => !CONTROL_SCOPE.test(x))) throw new InvalidScope('control_scope_invalid');
  return scopes;
}

export async function handle(ctx: StsContext, req: FastifyRequest, form: Form) {
  if (required(form, 'subject_token_type') !== ACCESS_TOKEN_TYPE) throw new InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  const subject = await verifySubject(ctx, req, required(form, 'subject_token'));
  const scopes = requestedScopes(form);
  const loaded = await orUnavailable('postgres_unavailable', () => ctx.repo.context(subject.zone_id, { sid: subject.sid, clientId: subject.client_id }, CONTROL_RESOURCE));
  if (!loaded.lineage.ok) throw new InvalidGrant(loaded.lineage.reason, `the subject token's lineage is not valid (${loaded.lineage.reason})`);
  const { applicationId, sessionExpiresAt } = loaded.lineage.state;
  req.auditDetail = Object.assign({}, req.auditDetail, { application_id: applicationId });
  const grant = loaded.rg?.grant;
  if (!grant) throw new AccessDenied('resource_not_granted', 'this application holds no control grant');
  const outside = scopes.filter((x) => !grant.scopes.includes(x));
  if (outside.length > 0) throw new AccessDenied('role_scope_mismatch', `not granted: ${outside.join(' ')}`);
  const now = Math.floor(Date.now() / 1000);
  const ttl = Math.min(CONTROL_TTL_SECONDS, grant.maxTtlSeconds, Math.floor(sessionExpiresAt.getTime() / 1000) - now);
  if (ttl < 1) throw new InvalidGrant('session_expired');
  const signed = await mint(ctx, subject.zone_id, {
    iss: ctx.issuer,
    sub: subject.client_id,
    aud: CONTROL_AUDIENCE,
    zone_id: subject.zone_id,
    client_id: subject.client_id,
    scope: scopes.join(' '),
    sid: subject.sid,
    use: 'control',
    ttlSeconds: ttl,
  }, now);
  await ctx.emit({
    zone_id: subject.zone_id,
    type: 'mandate.issued',
    decision: 'allow',
    reason: 'control_granted',
    request_id: req.id,
    application_id: applicationId,
    client_id: subject.client_id,
    resource: CONTROL_RESOURCE,
    subject: subject.client_id,
    data: { use: 'control', sid: subject.sid, jti: signed.claims.jti, scope: signed.claims.scope, exp: signed.claims.exp, parent_jti: subject.jti },
  });
  return tokenResponse(signed);
}
