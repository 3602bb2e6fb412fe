// Discovery: RFC 8414 authorization-server metadata and the per-zone JWKS (R-STS-2, R-STS-3).
import type { FastifyInstance } from 'fastify';
import { ServiceUnavailable } from '@caracal/service-kit';
import type { StsContext } from '../context.js';
import * as control from '../token/grants/control.js';
import * as tokenExchange from '../token/grants/token-exchange.js';
import { TOKEN_PATH } from './token.js';

export function discoveryRoutes(app: FastifyInstance, ctx: StsContext): void {
  app.get('/.well-known/oauth-authorization-server', async (_req, reply) => {
    reply.header('cache-control', 'max-age=300');
    return {
      issuer: ctx.issuer,
      token_endpoint: `${ctx.issuer}${TOKEN_PATH}`,
      jwks_uri: `${ctx.issuer}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials', tokenExchange.GRANT_TYPE, control.GRANT_TYPE],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      token_endpoint_auth_signing_alg_values_supported: ['ES256'],
      response_types_supported: [],
      scopes_supported: ['agent:lifecycle'],
      resource_indicators_supported: true,
    };
  });

  app.get<{ Querystring: { zone_id: string } }>(
    '/.well-known/jwks.json',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, required: ['zone_id'], properties: { zone_id: { type: 'string', format: 'uuid' } } },
      },
    },
    async (req, reply) => {
      let keys;
      try {
        keys = await ctx.keys.jwks(req.query.zone_id);
      } catch {
        throw new ServiceUnavailable('signing keys unavailable');
      }
      reply.header('cache-control', 'max-age=300');
      return { keys };
    },
  );
}
