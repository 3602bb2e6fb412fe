// The gateway's re-exchange (R-GW-2): a signed request (timestamp, nonce, method, path, body hash; ±60 s;
// single-use nonce) presenting the caller's mandate. The STS re-checks everything (gateway/authorize-checks.ts)
// and, on allow, returns the upstream directive with the credential opened from its seal. Policy denials are
// data (200, decision deny); each verdict on a verified mandate is audited in its zone.
import type { FastifyInstance } from 'fastify';
import { runChecks } from '../authority/index.js';
import { InvalidRequest } from '@caracal/service-kit';
import type { StsContext } from '../context.js';
import { AUTHORIZE_CHECKS, AUTHORIZE_PATH, type AuthorizeBody, type AuthorizeState, type Denial } from '../gateway/authorize-checks.js';

export { AUTHORIZE_PATH };

function directive(s: AuthorizeState) {
  const { claims } = s;
  const rg = s.loaded.rg!;
  return {
    upstream_url: rg.upstreamUrl,
    placement: s.credential === null ? null : { in: rg.placement.in, name: rg.placement.name, value: `${rg.placement.prefix ?? ''}${s.credential}` },
    zone_id: claims.zone_id,
    client_id: claims.client_id,
    sid: claims.sid,
    jti: claims.jti,
    exp: claims.exp,
    scope: claims.scope,
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
        const s = { ctx, req } as AuthorizeState;
        const denial = await runChecks<AuthorizeState, Denial>(AUTHORIZE_CHECKS, s);
        // Only a verified mandate names a zone to audit in; the gateway audits the rest on its side.
        if (s.claims) {
          await ctx.emit({
            zone_id: s.claims.zone_id,
            type: denial ? 'directive.denied' : 'directive.issued',
            decision: denial ? 'deny' : 'allow',
            reason: denial ? denial.reason : s.decision.reason,
            request_id: req.id,
            client_id: s.claims.client_id,
            resource: req.body.resource,
            subject: s.claims.sub,
            ...(s.lineage ? { application_id: s.lineage.applicationId } : {}),
            data: { method: req.body.method, path: req.body.path.split('?')[0] },
          });
        }
        return denial ? { decision: 'deny', reason: denial.reason } : { decision: 'allow', reason: s.decision.reason, ...directive(s) };
      },
    );
  });
}
