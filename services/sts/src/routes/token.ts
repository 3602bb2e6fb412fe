// POST /oauth/2/token (R-STS-1): form bodies only (else 415), no query string, strict parameters, one handler
// per grant type, and each grant refuses the parameters it does not accept. Responses carry no-store (RFC 6749 §5.1).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditDenials } from '../audit-denials.js';
import type { StsContext } from '../context.js';
import { parseForm, required, type Form } from '../token/form.js';
import * as clientCredentials from '../token/grants/client-credentials.js';
import * as control from '../token/grants/control.js';
import * as tokenExchange from '../token/grants/token-exchange.js';
import { InvalidRequest, UnsupportedGrantType } from '../token/oauth-errors.js';

interface Grant {
  GRANT_TYPE: string;
  PARAMETERS: ReadonlySet<string>;
  handle: (ctx: StsContext, req: FastifyRequest, form: Form) => Promise<unknown>;
}

const GRANTS: ReadonlyMap<string, Grant> = new Map<string, Grant>([clientCredentials, tokenExchange, control].map((g) => [g.GRANT_TYPE, g]));

export const TOKEN_PATH = '/oauth/2/token';
export const FORM_BODY_LIMIT = 16 * 1024;

/** The names are checked before any value is read, so a stray parameter never half-drives a grant. */
function refuseUnaccepted(grant: Grant, form: Form): void {
  for (const name of form.keys()) {
    if (name !== 'grant_type' && !grant.PARAMETERS.has(name)) {
      throw new InvalidRequest(`parameter '${name.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}' is not accepted by grant_type ${grant.GRANT_TYPE}`);
    }
  }
}

export async function tokenRoutes(app: FastifyInstance, ctx: StsContext): Promise<void> {
  await app.register(async (scope) => {
    // Only form bodies reach the handler: any other content type is refused with 415 by the framework.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) => done(null, body));
    auditDenials(scope, ctx, 'mandate.denied');
    scope.post(TOKEN_PATH, async (req, reply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      if (req.url.includes('?')) throw new InvalidRequest('the token endpoint takes no query string');
      if (!Buffer.isBuffer(req.body)) throw new InvalidRequest('a form body is required');
      const form = parseForm(req.body);
      const grantType = required(form, 'grant_type');
      const grant = GRANTS.get(grantType);
      if (!grant) throw new UnsupportedGrantType(`grant_type '${grantType.slice(0, 100)}' is not supported`);
      refuseUnaccepted(grant, form);
      return grant.handle(ctx, req, form);
    });
  });
}
