// RFC 9728 protected-resource metadata, so MCP and OAuth clients can find the STS from a 401 (R-GW-5).
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.js';

export const RESOURCE_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export const metadataUrl = (ctx: GatewayContext, name: string) => `${ctx.publicUrl}/.well-known/oauth-protected-resource/${name}`;

/** `WWW-Authenticate` for a 401 (RFC 6750 §3, RFC 9728 §5.1). */
export function challenge(ctx: GatewayContext, name: string, error?: { code: string; description: string }): string {
  const parts = [`resource_metadata="${metadataUrl(ctx, name)}"`];
  if (error) parts.push(`error="${error.code}"`, `error_description="${error.description.replace(/["\\]/g, '')}"`);
  return `Bearer ${parts.join(', ')}`;
}

export function protectedResourceRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get<{ Params: { name: string } }>(
    '/.well-known/oauth-protected-resource/:name',
    { schema: { params: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', pattern: RESOURCE_NAME.source } } } } },
    async (req, reply) => {
      reply.header('cache-control', 'max-age=300');
      return {
        resource: `${ctx.publicUrl}/${req.params.name}`,
        resource_name: `resource://${req.params.name}`,
        authorization_servers: [ctx.issuer],
        bearer_methods_supported: ['header'],
        resource_signing_alg_values_supported: ['ES256'],
      };
    },
  );
}
