// Builds the sts service (the sole issuer of mandates) from config and dependencies; used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { buildStandardApp, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { STREAMS, StreamConsumer, verifyFields, type GroupSpec } from '@caracal/streams';
import { AuthorityLimits, AuthorityRepository } from './authority/index.js';
import type { StsConfig } from './config.js';
import type { StsContext } from './context.js';
import { KeyStore } from './keys/key-store.js';
import { discoveryRoutes } from './routes/discovery.js';
import { gatewayAuthorizeRoutes } from './routes/gateway-authorize.js';
import { tokenRoutes } from './routes/token.js';

export const GROUPS: readonly GroupSpec[] = [
  { stream: STREAMS.policyInvalidate, group: 'sts' },
  { stream: STREAMS.keysInvalidate, group: 'sts' },
];

export async function buildApp(config: StsConfig, deps: ServiceDeps, logger: Logger): Promise<Runnable> {
  const { app, metrics, emit } = buildStandardApp({ service: 'sts', config, deps, logger, groups: GROUPS, audit: 'sts' });
  const issuer = (config.CARACAL_ISSUER_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/$/, '');
  const keys = new KeyStore({ pool: deps.pool, kek: config.SECRET_STORE_KEK });
  const repo = new AuthorityRepository(deps.pool);
  const limits = new AuthorityLimits(deps.redis, config.REDIS_KEY_PREFIX);
  const ctx: StsContext = { config, deps, logger, keys, repo, limits, emit, issuer };
  await tokenRoutes(app, ctx);
  await gatewayAuthorizeRoutes(app, ctx);
  discoveryRoutes(app, ctx);

  // Rotations announced by the api take effect at once; the key cache's TTL is the backstop.
  const streamsKey = config.STREAMS_HMAC_KEY;
  const consumer = streamsKey
    ? new StreamConsumer({
        redis: deps.redisBlocking,
        keys: deps.keys,
        stream: STREAMS.keysInvalidate,
        group: 'sts',
        consumer: `sts-${process.pid}`,
        verify: (m) => (verifyFields(STREAMS.keysInvalidate, m.fields, streamsKey) ? { ok: true } : { ok: false, reason: 'bad_signature' }),
        handle: async (m) => keys.invalidate(m.fields.zone_id),
        hooks: { onRejected: (_m, reason) => metrics.streamRejected.inc({ stream: STREAMS.keysInvalidate, reason }) },
      })
    : undefined;
  app.addHook('onReady', async () => consumer?.start());
  return { app, stop: async () => consumer?.stop() };
}
