// The enforcement path (R-GW-1..6). Before any byte goes upstream: bearer present and small, path safe,
// revocation snapshot fresh, mandate verified (ES256, zone JWKS, iss/aud/exp/nbf, use), jti single-use, lineage
// not revoked, and a signed re-exchange at the STS returning the directive. Every allow and deny is audited.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_TOKEN_BYTES, verifyMandate, type MandateClaims } from '@caracal/mandates';
import { ServiceError } from '@caracal/service-kit';
import type { GatewayContext } from '../context.js';
import { byteLimit, forward, ForwardError } from '../proxy/forward.js';
import { filterResponseHeaders, forwardRequestHeaders } from '../proxy/headers.js';
import { checkForwardPath } from '../proxy/path-guard.js';
import { checkUpstreamUrl, preflightResolve } from '@caracal/ssrf-guard';
import { StsUnavailable } from '../sts-client.js';
import { challenge, RESOURCE_NAME } from './protected-resource.js';

class Denied extends ServiceError {
  constructor(status: number, error: string, description: string, readonly reason: string, headers: Record<string, string> = {}) {
    super(status, error, description, headers);
  }
}

/** Denials that mean "this mandate is no good" answer 401 with a challenge; the rest are 403. */
const TOKEN_REASONS = new Set(['lineage_revoked', 'session_expired', 'session_unknown', 'lineage_mismatch', 'token_expired', 'token_not_yet_valid', 'bad_signature', 'unknown_key', 'wrong_issuer', 'wrong_audience', 'wrong_use', 'malformed_token', 'alg_not_allowed', 'invalid_claims', 'token_too_large', 'token_replayed']);

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export function proxyRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.register(async (scope) => {
    // Bodies are never parsed: they stream to the upstream, counted against the limit.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    const handler = (req: FastifyRequest<{ Params: { resource: string } }>, reply: FastifyReply) => handle(ctx, req, reply);
    scope.route({ method: [...METHODS], url: '/:resource', handler });
    scope.route({ method: [...METHODS], url: '/:resource/*', handler });
  });
}

function deny(ctx: GatewayContext, name: string, status: number, reason: string, description: string): Denied {
  if (status === 401) return new Denied(401, 'invalid_token', description, reason, { 'www-authenticate': challenge(ctx, name, { code: 'invalid_token', description }) });
  if (status === 403) return new Denied(403, 'insufficient_scope', description, reason);
  return new Denied(status, status === 503 ? 'temporarily_unavailable' : status === 413 ? 'payload_too_large' : status === 504 ? 'upstream_timeout' : status === 502 ? 'bad_gateway' : 'invalid_request', description, reason);
}

async function handle(ctx: GatewayContext, req: FastifyRequest<{ Params: { resource: string } }>, reply: FastifyReply) {
  const name = req.params.resource;
  if (!RESOURCE_NAME.test(name)) throw new Denied(404, 'not_found', 'no such resource', 'unknown_resource');
  const identifier = `resource://${name}`;
  let claims: MandateClaims | undefined;
  try {
    const header = req.headers.authorization;
    if (!header) {
      throw new Denied(401, 'invalid_request', 'a bearer mandate is required', 'missing_token', { 'www-authenticate': challenge(ctx, name) });
    }
    const m = /^Bearer ([A-Za-z0-9._-]+)$/.exec(header);
    if (!m) throw deny(ctx, name, 401, 'malformed_token', 'the authorization header is not a bearer token');
    const token = m[1]!;
    if (token.length > MAX_TOKEN_BYTES) throw deny(ctx, name, 401, 'token_too_large', 'the bearer token is larger than 4 KiB');

    const raw = req.raw.url ?? '/';
    const rest = raw.slice(1 + name.length) || '/';
    const checked = checkForwardPath(rest.startsWith('?') ? `/${rest}` : rest);
    if (!checked.ok) throw deny(ctx, name, 400, 'path_rejected', `the request path is refused (${checked.reason})`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > ctx.config.GATEWAY_BODY_LIMIT_BYTES) throw deny(ctx, name, 413, 'request_too_large', 'request body too large');

    if (ctx.revocations.stale()) throw deny(ctx, name, 503, 'revocation_snapshot_stale', 'revocation data is stale');
    const verified = await verifyMandate(token, { resolveKey: ctx.jwks.resolve, issuer: ctx.issuer, audience: identifier, use: 'gateway' });
    if (!verified.ok) {
      if (verified.reason === 'key_unavailable') throw deny(ctx, name, 503, 'sts_unavailable', 'signing keys cannot be fetched');
      throw deny(ctx, name, 401, verified.reason, `the mandate is not acceptable (${verified.reason})`);
    }
    claims = verified.claims;

    let fresh: string | null;
    try {
      fresh = await ctx.deps.redis.set(`${ctx.config.REDIS_KEY_PREFIX}caracal:jti:used:${claims.jti}`, '1', 'EX', Math.max(1, claims.exp - Math.floor(Date.now() / 1000) + 60), 'NX');
    } catch {
      throw deny(ctx, name, 503, 'redis_unavailable', 'the replay registry is unavailable');
    }
    if (fresh !== 'OK') throw deny(ctx, name, 401, 'token_replayed', 'this mandate was already used');
    if (ctx.revocations.isRevoked([claims.sid, claims.agent_session_id, claims.delegation_edge_id])) throw deny(ctx, name, 401, 'lineage_revoked', 'the mandate lineage is revoked');

    let answer;
    try {
      answer = await ctx.sts.authorize({ token, resource: identifier, method: req.method, path: checked.path }, req.id);
    } catch (err) {
      if (err instanceof StsUnavailable) throw deny(ctx, name, 503, 'sts_unavailable', 'the STS is unavailable');
      throw err;
    }
    if (answer.decision !== 'allow') throw deny(ctx, name, TOKEN_REASONS.has(answer.reason) ? 401 : 403, answer.reason, `denied: ${answer.reason}`);

    const upstream = checkUpstreamUrl(answer.upstream_url, ctx.policy);
    if (!upstream.ok) throw deny(ctx, name, 502, 'upstream_blocked', 'the upstream is refused by the SSRF guard');
    const pre = await preflightResolve(upstream.url, ctx.resolve, ctx.policy);
    if (!pre.ok) throw deny(ctx, name, 502, 'upstream_blocked', 'the upstream is refused by the SSRF guard');

    const hasBody = !['GET', 'HEAD', 'OPTIONS'].includes(req.method) || declared > 0 || req.headers['transfer-encoding'] !== undefined;
    let res;
    try {
      res = await forward({
        base: upstream.url,
        path: checked.path,
        method: req.method,
        headers: forwardRequestHeaders(req.headers, { requestId: req.id }),
        placement: answer.placement,
        body: hasBody ? req.raw : null,
        bodyLimit: ctx.config.GATEWAY_BODY_LIMIT_BYTES,
        timeoutMs: ctx.config.UPSTREAM_TIMEOUT_MS,
        lookup: ctx.lookup,
      });
    } catch (err) {
      if (!(err instanceof ForwardError)) throw err;
      const status = { upstream_timeout: 504, upstream_failed: 502, upstream_blocked: 502, request_too_large: 413 }[err.failure];
      throw deny(ctx, name, status, err.failure, err.message);
    }
    const length = Number(res.headers['content-length'] ?? 0);
    if (length > ctx.config.GATEWAY_RESPONSE_LIMIT_BYTES) {
      res.destroy();
      throw deny(ctx, name, 502, 'upstream_response_too_large', 'the upstream response is too large');
    }
    void audit(ctx, req, claims, identifier, 'allow', 'forwarded', res.statusCode ?? 0);
    reply.code(res.statusCode ?? 502).headers(filterResponseHeaders(res.headers));
    return reply.send(res.pipe(byteLimit(ctx.config.GATEWAY_RESPONSE_LIMIT_BYTES, () => new Error('upstream response exceeded the limit'))));
  } catch (err) {
    if (err instanceof Denied) void audit(ctx, req, claims, identifier, 'deny', err.reason, err.statusCode);
    throw err;
  }
}

async function audit(ctx: GatewayContext, req: FastifyRequest, claims: MandateClaims | undefined, resource: string, decision: 'allow' | 'deny', reason: string, status: number) {
  // Without a verified mandate there is no trustworthy zone to file the event in; the log line remains.
  if (!claims) {
    req.log.info({ decision, reason, resource, status }, 'gateway decision');
    return;
  }
  await ctx.emit({
    zone_id: claims.zone_id,
    type: decision === 'allow' ? 'gateway.allowed' : 'gateway.denied',
    decision,
    reason,
    request_id: req.id,
    client_id: claims.client_id,
    resource,
    subject: claims.sub,
    data: { method: req.method, status, jti: claims.jti, sid: claims.sid },
  });
}
