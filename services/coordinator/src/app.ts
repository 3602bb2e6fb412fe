// Builds the coordinator service (agent sessions, delegation edges, their idempotency, expiry sweeper and outbox relay)
// from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildStandardApp, createOutboxRelay, refuseUnsafeText, zonePublicKeys, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { type GroupSpec } from '@caracal/streams';
import { auditDenials } from './audit-denials.js';
import { authenticate } from './auth/authenticate.js';
import type { CoordinatorConfig } from './config.js';
import type { CoordinatorContext } from './context.js';
import { agentRoutes } from './routes/agents.js';
import { delegationRoutes } from './routes/delegations.js';
import { startSweeper } from './sessions/sweeper.js';

export const GROUPS: readonly GroupSpec[] = [];

export interface BuildOptions {
  /** Tests drive the sweeper themselves. */
  sweeper?: boolean;
}

export async function buildApp(config: CoordinatorConfig, deps: ServiceDeps, logger: Logger, opts: BuildOptions = {}): Promise<Runnable> {
  const outbox = createOutboxRelay(config, deps, logger);
  const { app, emit } = buildStandardApp({ service: 'coordinator', config, deps, logger, groups: GROUPS, audit: 'coordinator', outbox: { relay: outbox, staleAfterMs: config.OUTBOX_STALE_AFTER_MS } });
  const ctx: CoordinatorContext = { config, deps, logger, emit, outbox };
  await app.register(async (v1) => {
    // JSON only: anything else is a 415, not a body the schema would try to read.
    v1.removeContentTypeParser('text/plain');
    auditDenials(v1, ctx);
    v1.addHook(
      'onRequest',
      authenticate({
        pool: deps.pool,
        redis: deps.redis,
        keyPrefix: config.REDIS_KEY_PREFIX,
        token: config.CARACAL_COORDINATOR_TOKEN,
        issuer: config.CARACAL_ISSUER_URL,
        resolveKey: zonePublicKeys(deps.pool),
        ratePerMinute: config.COORDINATOR_RATE_PER_MIN,
      }),
    );
    // NUL and unpaired surrogates are refused in every string before any schema or query sees them (§15).
    v1.addHook('preValidation', refuseUnsafeText);
    agentRoutes(v1, ctx);
    delegationRoutes(v1, ctx);
  });
  if (opts.sweeper !== false) {
    let stop: (() => Promise<void>) | undefined;
    app.addHook('onReady', async () => void (stop = startSweeper(ctx, config.AGENT_SWEEP_INTERVAL_MS)));
    app.addHook('onClose', async () => stop?.());
  }
  return { app };
}
