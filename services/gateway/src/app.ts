// Builds the gateway service (the reverse proxy enforcing mandates per request) from config and dependencies;
// used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { AuthorityKeyspace, broadcastHooks, buildStandardApp, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { BroadcastReader, STREAMS, type GroupSpec } from '@caracal/streams';
import type { GatewayConfig } from './config.js';
import type { GatewayContext } from './context.js';
import { JwksCache } from './jwks-cache.js';
import { upstreamAgent } from './proxy/forward.js';
import { defaultResolve, guardedLookup, type Resolve, type SsrfPolicy } from '@caracal/ssrf-guard';
import { RevocationCache } from './revocations.js';
import { protectedResourceRoutes } from './routes/protected-resource.js';
import { proxyRoutes } from './routes/proxy.js';
import { StsClient } from './sts-client.js';

/** None: revocations and key invalidations are read per instance (every gateway process applies every one). */
export const GROUPS: readonly GroupSpec[] = [];

export interface GatewayOverrides {
  /** Name resolution for the SSRF guard; tests pass a fake one. */
  resolve?: Resolve;
  /** The JWKS cache's HTTP client; tests wrap the real one to count fetches. */
  jwksFetch?: typeof fetch;
}

export async function buildApp(config: GatewayConfig, deps: ServiceDeps, logger: Logger, overrides: GatewayOverrides = {}): Promise<Runnable> {
  const revocations = new RevocationCache({ pool: deps.pool, logger, intervalMs: config.REVOCATION_SNAPSHOT_MS, staleMs: config.REVOCATION_STALE_MS });
  const { app, metrics, emit } = buildStandardApp({
    service: 'gateway',
    config,
    deps,
    logger,
    groups: GROUPS,
    audit: 'gateway',
    readiness: [
      {
        reason: 'revocation_snapshot_stale',
        check: async () => {
          if (revocations.stale()) throw new Error(`last snapshot ${revocations.ageMs()} ms ago`);
        },
      },
    ],
  });
  const stsUrl = (config.CARACAL_STS_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const issuer = (config.CARACAL_ISSUER_URL ?? stsUrl).replace(/\/$/, '');
  const policy: SsrfPolicy = {
    blockPrivate: config.GATEWAY_BLOCK_PRIVATE,
    ...(config.GATEWAY_ALLOW_HOSTS ? { allowHosts: config.GATEWAY_ALLOW_HOSTS.split(',').map((h) => h.trim()).filter(Boolean) } : {}),
  };
  const resolve = overrides.resolve ?? defaultResolve;
  const ctx: GatewayContext = {
    config,
    deps,
    logger,
    issuer,
    publicUrl: (config.GATEWAY_PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/$/, ''),
    jwks: new JwksCache({
      stsUrl,
      cooldownMs: config.JWKS_COOLDOWN_MS,
      timeoutMs: config.STS_TIMEOUT_MS,
      maxZones: config.JWKS_MAX_ZONES,
      negativeTtlMs: config.JWKS_NEGATIVE_TTL_MS,
      unknownZoneFetchesPerMin: config.JWKS_UNKNOWN_ZONE_FETCHES_PER_MIN,
      knownZone: (zoneId) => revocations.hasZone(zoneId),
      ...(overrides.jwksFetch ? { fetchImpl: overrides.jwksFetch } : {}),
    }),
    revocations,
    sts: new StsClient({ stsUrl, hmacKey: config.GATEWAY_STS_HMAC_KEY ?? '', timeoutMs: config.STS_TIMEOUT_MS }),
    emit,
    policy,
    resolve,
    upstream: upstreamAgent(guardedLookup(resolve, policy), config.UPSTREAM_TIMEOUT_MS),
    keyspace: new AuthorityKeyspace(config.REDIS_KEY_PREFIX),
    now: Date.now,
  };
  protectedResourceRoutes(app, ctx);
  proxyRoutes(app, ctx);

  // Revocations and key invalidations reach every gateway process: each reads the streams with its own cursor.
  const key = config.STREAMS_HMAC_KEY;
  const broadcasts = key
    ? new BroadcastReader({
        redis: deps.redisBlocking,
        keys: deps.keys,
        hmacKey: key,
        blockMs: 500,
        handlers: {
          [STREAMS.sessionsRevoke]: (m) => void (m.fields.target_id && revocations.add(m.fields.target_id)),
          [STREAMS.keysInvalidate]: (m) => void (m.fields.zone_id && ctx.jwks.invalidate(m.fields.zone_id)),
        },
        hooks: {
          ...broadcastHooks(metrics, logger),
          // The cursor was taken late: what was published meanwhile is read again from Postgres and the STS.
          onResync: () => {
            revocations.refresh();
            ctx.jwks.invalidate();
          },
        },
      })
    : undefined;
  app.addHook('onReady', async () => {
    // The cursor first, then the snapshot: a revocation published in between is read from the stream.
    await broadcasts?.mark().catch(() => undefined);
    revocations.start();
    broadcasts?.start();
  });
  return {
    app,
    stop: async () => {
      await broadcasts?.stop();
      await revocations.stop();
      await ctx.sts.close();
      await ctx.upstream.close();
    },
  };
}
