// The gateway's re-exchange (R-GW-2): a signed request (timestamp, nonce, method, path, body hash; ±60 s;
// single-use nonce) presenting the caller's mandate. The STS re-checks everything and, on allow, returns the
// upstream directive with the credential opened from its seal. Policy denials are data (200, decision deny).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { verifyRequest } from '@caracal/internal-auth';
import { scopesOf, verifyMandate } from '@caracal/mandates';
import { unseal } from '@caracal/seal';
import { InvalidRequest, ServiceError, ServiceUnavailable } from '@caracal/service-kit';
import type { StsContext } from '../context.js';
import { allows, evaluateContract } from '../policy/contract.js';
import { loadAuthorityContext } from '../token/authority-context.js';
import { requiredScope } from '../token/resource-grant.js';

export const AUTHORIZE_PATH = '/internal/v1/gateway/authorize';

interface AuthorizeBody {
  token: string;
  resource: string;
  method: string;
  path: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

type Verdict = { decision: 'deny'; reason: string } | { decision: 'allow'; reason: string; directive: Record<string, unknown> };

async function decide(ctx: StsContext, req: FastifyRequest, b: AuthorizeBody): Promise<Verdict & { zone?: string; detail?: Record<string, string> }> {
  const verified = await verifyMandate(b.token, { resolveKey: (z, k) => ctx.keys.verifyKey(z, k), issuer: ctx.issuer, use: 'gateway' });
  if (!verified.ok) {
    if (verified.reason === 'key_unavailable') throw new ServiceUnavailable('signing keys unavailable');
    return { decision: 'deny', reason: verified.reason };
  }
  const claims = verified.claims;
  const zone = claims.zone_id;
  const detail = { client_id: claims.client_id, resource: b.resource, subject: claims.sub };
  const loaded = await loadAuthorityContext(ctx.deps.pool, zone, { sid: claims.sid, clientId: claims.client_id, agentSessionId: claims.agent_session_id, delegationEdgeId: claims.delegation_edge_id }, b.resource).catch(() => {
    throw new ServiceUnavailable('authority store unavailable');
  });
  if (!loaded.lineage.ok) return { decision: 'deny', reason: loaded.lineage.reason, zone, detail };
  const rg = loaded.rg;
  const result = evaluateContract({
    schema_version: 1,
    principal: { type: claims.agent_session_id ? 'agent_session' : 'application', id: loaded.lineage.state.applicationId, zone_id: zone, agent_session_id: claims.agent_session_id ?? null, labels: [] },
    resource: rg?.grant ? { id: rg.resourceId, identifier: rg.identifier, scopes: rg.grant.scopes } : null,
    action: { id: 'gateway_use', method: b.method, path: b.path },
    session: null,
    delegation_edge: null,
    context: {
      requested_scopes: scopesOf(claims),
      request_id: req.id,
      audience: Array.isArray(claims.aud) ? claims.aud : [claims.aud],
      required_scope: rg ? requiredScope(rg.operations, b.method, b.path) : null,
    },
  });
  if (!allows(result) || !rg) return { decision: 'deny', reason: result.reason, zone, detail: { ...detail, application_id: loaded.lineage.state.applicationId } };
  let credential: string | null = null;
  if (rg.credentialSealed) {
    if (!ctx.config.SECRET_STORE_KEK) throw new ServiceUnavailable('SECRET_STORE_KEK is not configured');
    try {
      credential = unseal(ctx.config.SECRET_STORE_KEK, rg.credentialSealed, `resource-credential:${zone}:${rg.resourceId}`).toString('utf8');
    } catch {
      // A credential that does not open is never forwarded in any form.
      return { decision: 'deny', reason: 'credential_unavailable', zone, detail };
    }
  }
  return {
    decision: 'allow',
    reason: result.reason,
    zone,
    detail: { ...detail, application_id: loaded.lineage.state.applicationId },
    directive: {
      upstream_url: rg.upstreamUrl,
      placement: credential === null ? null : { in: rg.placement.in, name: rg.placement.name, value: `${rg.placement.prefix ?? ''}${credential}` },
      zone_id: zone,
      client_id: claims.client_id,
      sid: claims.sid,
      jti: claims.jti,
      exp: claims.exp,
      scope: claims.scope,
    },
  };
}

export async function gatewayAuthorizeRoutes(app: FastifyInstance, ctx: StsContext): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 16 * 1024 }, (req, body: Buffer, done) => {
      req.rawBody = body;
      try {
        done(null, JSON.parse(body.toString('utf8')));
      } catch {
        done(new InvalidRequest('malformed JSON body'), undefined);
      }
    });
    scope.post<{ Body: AuthorizeBody }>(
      AUTHORIZE_PATH,
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['token', 'resource', 'method', 'path'],
            properties: {
              token: { type: 'string', minLength: 1, maxLength: 4096 },
              resource: { type: 'string', pattern: '^resource://[a-z0-9][a-z0-9._-]*$' },
              method: { type: 'string', pattern: '^[A-Z]{1,16}$' },
              path: { type: 'string', minLength: 1, maxLength: 8192 },
            },
          },
        },
      },
      async (req) => {
        const key = ctx.config.GATEWAY_STS_HMAC_KEY;
        if (!key) throw new ServiceUnavailable('GATEWAY_STS_HMAC_KEY is not configured');
        const sig = verifyRequest(req.headers, { key, method: 'POST', path: AUTHORIZE_PATH, body: req.rawBody ?? Buffer.alloc(0) });
        if (!sig.ok) throw new ServiceError(401, 'invalid_signature', `gateway signature refused (${sig.reason})`);
        let fresh: string | null;
        try {
          fresh = await ctx.deps.redis.set(`${ctx.config.REDIS_KEY_PREFIX}caracal:gwnonce:${sig.nonce}`, '1', 'EX', 180, 'NX');
        } catch {
          throw new ServiceUnavailable('nonce registry unavailable');
        }
        if (fresh !== 'OK') throw new ServiceError(401, 'invalid_signature', 'gateway signature refused (nonce_replayed)');
        const verdict = await decide(ctx, req, req.body);
        if (verdict.zone) {
          await ctx.emit({
            zone_id: verdict.zone,
            type: verdict.decision === 'allow' ? 'directive.issued' : 'directive.denied',
            decision: verdict.decision,
            reason: verdict.reason,
            request_id: req.id,
            ...verdict.detail,
            data: { method: req.body.method, path: req.body.path.split('?')[0] },
          });
        }
        return verdict.decision === 'allow' ? { decision: 'allow', reason: verdict.reason, ...verdict.directive } : { decision: 'deny', reason: verdict.reason };
      },
    );
  });
}
