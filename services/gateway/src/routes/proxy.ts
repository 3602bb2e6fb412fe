// The enforcement path (R-GW-1..6) as an ordered list of named checks, each in its own file under checks/.
// Nothing reaches the upstream until every check has passed; every allow and deny is audited.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.js';
import { auditDecision } from '../checks/audit-decision.js';
import { bearerPresent } from '../checks/bearer-present.js';
import { bodySize } from '../checks/body-size.js';
import { credentialValid } from '../checks/credential-valid.js';
import { deny, Denied, type Check, type Exchange } from '../checks/exchange.js';
import { forwardUpstream } from '../checks/forward-upstream.js';
import { jtiSingleUse } from '../checks/jti-single-use.js';
import { lifetimeWithinMax } from '../checks/lifetime.js';
import { lineageNotRevoked } from '../checks/lineage-live.js';
import { mandateVerified } from '../checks/mandate-verified.js';
import { pathCanonical } from '../checks/path-canonical.js';
import { snapshotFresh } from '../checks/snapshot-fresh.js';
import { stsAuthorized } from '../checks/sts-authorized.js';
import { upstreamAllowed } from '../checks/upstream-allowed.js';
import { RESOURCE_NAME } from './protected-resource.js';

/** In order: cheap refusals first, the mandate before anything it claims is believed, the STS before the upstream. */
const CHECKS: readonly Check[] = [
  bearerPresent,
  pathCanonical,
  bodySize,
  snapshotFresh,
  mandateVerified,
  lifetimeWithinMax,
  jtiSingleUse,
  lineageNotRevoked,
  stsAuthorized,
  upstreamAllowed,
  credentialValid,
];

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

async function handle(ctx: GatewayContext, req: FastifyRequest<{ Params: { resource: string } }>, reply: FastifyReply) {
  const name = req.params.resource;
  const x: Exchange = { ctx, req, name, resource: `resource://${name}` };
  try {
    if (!RESOURCE_NAME.test(name)) throw deny(x, 'unknown_resource', 'no such resource');
    for (const check of CHECKS) await check(x);
    return await forwardUpstream(x, reply);
  } catch (err) {
    if (err instanceof Denied) void auditDecision(x, 'deny', err.reason, err.statusCode);
    throw err;
  }
}
