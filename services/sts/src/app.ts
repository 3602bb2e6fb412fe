// Builds the sts service (the sole issuer of mandates) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { broadcastHooks, buildStandardApp, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { BroadcastReader, STREAMS, type GroupSpec } from '@caracal/streams';
import { Counter } from 'prom-client';
import { AuthorityLimits, AuthorityRepository, AuthorityView, GraphShapes, type KeptContext } from './authority/index.js';
import type { StsConfig } from './config.js';
import type { StsContext } from './context.js';
import { KeyStore } from './keys/key-store.js';
import { PolicyStore, ZonePolicies } from './policy/index.js';
import { discoveryRoutes } from './routes/discovery.js';
import { gatewayAuthorizeRoutes } from './routes/gateway-authorize.js';
import { tokenRoutes } from './routes/token.js';
import { IssuedSignatures, SessionSignatures } from './token/session-signatures.js';

/** A kept context is read again from PostgreSQL at least this often, even if no change was announced. */
const AUTHORITY_VIEW_TTL_MS = 60_000;

/** None: key and policy invalidations are read per instance (every sts process reloads the zone's keys and sets). */
export const GROUPS: readonly GroupSpec[] = [];

export async function buildApp(config: StsConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const { app, metrics, emit } = buildStandardApp({ service: 'sts', config, deps, logger, groups: GROUPS, audit: 'sts' });
  const issuer = (config.CARACAL_ISSUER_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/$/, '');
  const keys = new KeyStore({ pool: deps.pool, kek: config.SECRET_STORE_KEK });
  const graphReads = new Counter({
    name: 'caracal_sts_delegation_graph_reads_total',
    help: "Delegated mints' graph reads: source=store read the whole graph, source=shape read only what can change of a shape this instance keeps",
    labelNames: ['source'],
    registers: [metrics.registry],
  });
  const contextReads = new Counter({
    name: 'caracal_sts_authority_context_reads_total',
    help: 'Authority contexts without a graph (direct exchanges, gateway decisions): source=view came from this process\'s memory, source=store from PostgreSQL',
    labelNames: ['source'],
    registers: [metrics.registry],
  });
  const gatewaySignatures = new Counter({
    name: 'caracal_sts_gateway_mandate_signatures_total',
    help: "Re-exchanged gateway mandates' ES256 checks: signature=remembered was skipped (this process signed the token), signature=verified was done",
    labelNames: ['signature'],
    registers: [metrics.registry],
  });
  const view =
    config.AUTHORITY_VIEW_MAX_ENTRIES > 0
      ? new AuthorityView<KeptContext>({ pool: deps.pool, logger, maxEntries: config.AUTHORITY_VIEW_MAX_ENTRIES, staleMs: config.AUTHORITY_VIEW_STALE_MS, ttlMs: AUTHORITY_VIEW_TTL_MS })
      : undefined;
  const repo = new AuthorityRepository(deps.pool, {
    shapes: new GraphShapes(),
    onGraphRead: (source) => graphReads.inc({ source }),
    view,
    onContextRead: (source) => contextReads.inc({ source }),
  });
  const limits = new AuthorityLimits(deps.redis, config.REDIS_KEY_PREFIX);
  const policies = new ZonePolicies({
    store: new PolicyStore(deps.pool),
    memory: { initialPages: Math.min(5, config.POLICY_MEMORY_MAX_PAGES), maximumPages: config.POLICY_MEMORY_MAX_PAGES },
    budgetMs: config.POLICY_EVAL_BUDGET_MS,
    logger,
  });
  const ctx: StsContext = {
    config,
    deps,
    logger,
    keys,
    repo,
    limits,
    policies,
    emit,
    issuer,
    sessionSignatures: new SessionSignatures(),
    issuedSignatures: new IssuedSignatures(undefined, undefined, (signature) => gatewaySignatures.inc({ signature })),
  };
  await tokenRoutes(app, ctx);
  await gatewayAuthorizeRoutes(app, ctx);
  discoveryRoutes(app, ctx);

  // Rotations and policy activations announced by the api take effect at once in every sts process; the key
  // cache's TTL and the policy sets' periodic check are the backstops.
  const streamsKey = config.STREAMS_HMAC_KEY;
  const broadcasts = streamsKey
    ? new BroadcastReader({
        redis: deps.redisBlocking,
        keys: deps.keys,
        hmacKey: streamsKey,
        handlers: {
          [STREAMS.keysInvalidate]: (m) => keys.invalidate(m.fields.zone_id),
          [STREAMS.policyInvalidate]: (m) => policies.invalidate(m.fields.zone_id),
        },
        hooks: {
          ...broadcastHooks(metrics, logger),
          // The cursor was taken late: keys and policy sets cached meanwhile are loaded again.
          onResync: () => {
            keys.invalidate();
            policies.invalidate();
          },
        },
      })
    : undefined;
  app.addHook('onReady', async () => {
    // The cursor before any key is cached: an invalidation published after it is read from the stream.
    await broadcasts?.mark().catch(() => undefined);
    broadcasts?.start();
    view?.start();
    policies.start(config.POLICY_RECHECK_MS);
  });
  // Closing the app gives the view's listening connection back, so the pool can end even when nothing else is stopped.
  app.addHook('onClose', async () => view?.stop());
  return {
    app,
    stop: async () => {
      policies.stop();
      await broadcasts?.stop();
    },
  };
}
