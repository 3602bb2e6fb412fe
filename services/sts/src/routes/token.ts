// POST /oauth/2/token (R-STS-1): form bodies only (else 415), no query string, strict parameters, one handler
// per grant type. Responses carry no-store (RFC 6749 §5.1).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditDenials } from '../audit-denials.js';
import type { StsContext } from '../context.js';
import { parseForm, required, type Form } from '../token/form.js';
import * as clientCredentials from '../token/grants/client-credentials.js';
import * as tokenExchange from '../token/grants/token-exchange.js';
import { invalidRequest, unsupportedGrantType } from '../token/oauth-errors.js';

type Handler = (ctx: StsContext, req: FastifyRequest, form: Form) => Promise<unknown>;

const GRANTS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  [clientCredentials.GRANT_TYPE, clientCredentials.handleClientCredentials],
  [tokenExchange.GRANT_TYPE, tokenExchange.handleTokenExchange],
]);

export const TOKEN_PATH = '/oauth/2/token';
export const FORM_BODY_LIMIT = 16 * 1024;

export async function tokenRoutes(app: FastifyInstance, ctx: StsContext): Promise<void> {
  await app.register(async (scope) => {
    // Only form bodies reach the handler: any other content type is refused with 415 by the framework.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) => done(null, body));
    auditDenials(scope, ctx, 'mandate.denied');
    scope.post(TOKEN_PATH, async (req, reply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      if (req.url.includes('?')) throw invalidRequest('the token endpoint takes no query string');
      if (!Buffer.isBuffer(req.body)) throw invalidRequest('a form body is required');
      const form = parseForm(req.body);
      const grantType = required(form, 'grant_type');
      const handle = GRANTS.get(grantType);
      if (!handle) throw unsupportedGrantType(`grant_type '${grantType.slice(0, 100)}' is not supported`);
      return handle(ctx, req, form);
    });
  });
}
