// Builds the api service (control plane: zones, applications, resources, grants, policy sets, admin tokens,
// revocations, and the control endpoint) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildStandardApp, createOutboxRelay, refuseUnsafeText, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import type { GroupSpec } from '@caracal/streams';
import { adminAuth } from './auth/admin-auth.js';
import { InternalPasses } from './auth/internal-passes.js';
import type { ApiConfig } from './config.js';
import type { ApiContext } from './context.js';
import { adminTokenRoutes } from './routes/admin-tokens.js';
import { applicationRoutes } from './routes/applications.js';
import { approvalRoutes } from './routes/approvals.js';
import { auditRoutes } from './routes/audit.js';
import { controlRoutes } from './routes/control.js';
import { grantRoutes } from './routes/grants.js';
import { policySetRoutes } from './routes/policy-sets.js';
import { policySimulateRoutes } from './routes/policy-simulate.js';
import { resourceRoutes } from './routes/resources.js';
import { revocationRoutes } from './routes/revocations.js';
import { zoneRoutes } from './routes/zones.js';

export const GROUPS: readonly GroupSpec[] = [];

export async function buildApp(config: ApiConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const outbox = createOutboxRelay(config, deps, logger);
  const { app, emit } = buildStandardApp({ service: 'api', config, deps, logger, groups: GROUPS, audit: 'api', outbox: { relay: outbox, staleAfterMs: config.OUTBOX_STALE_AFTER_MS } });
  const ctx: ApiContext = { config, deps, logger, emit, outbox };
  const passes = new InternalPasses();
  // Everything under /v1 but the control endpoint is admin-only; health, readiness and metrics stay outside.
  await app.register(async (v1) => {
    // JSON only: anything else is a 415, not a body the schema would try to read.
    v1.removeContentTypeParser('text/plain');
    v1.addHook(
      'onRequest',
      adminAuth({ pool: deps.pool, redis: deps.redis, keyPrefix: config.REDIS_KEY_PREFIX, bootstrapToken: config.CARACAL_ADMIN_TOKEN, ratePerMinute: config.API_RATE_PER_MIN, passes }),
    );
    // NUL and unpaired surrogates are refused in every string before any schema or query sees them (§15).
    v1.addHook('preValidation', refuseUnsafeText);
    for (const routes of [zoneRoutes, applicationRoutes, resourceRoutes, grantRoutes, revocationRoutes, policySetRoutes, policySimulateRoutes, approvalRoutes, adminTokenRoutes, auditRoutes]) routes(v1, ctx);
  });
  // The control endpoint (R-CTL-1) authenticates with control mandates, not admin tokens, and runs each command as
  // the admin route it names.
  await app.register(async (control) => controlRoutes(app, control, ctx, passes));
  return { app };
}
