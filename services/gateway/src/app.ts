// Builds the gateway service (the reverse proxy enforcing mandates per request) from config and dependencies;
// used by main.ts and tests.
import type { Logger } from '@caracal/logging';
import { AuthorityKeyspace, buildStandardApp, createRedis, type Runnable, type ServiceDeps } from '@caracal/service-kit';
import { STREAMS, StreamConsumer, verifyFields, type GroupSpec } from '@caracal/streams';
import type { GatewayConfig } from './config.js';
import type { GatewayContext } from './context.js';
import { JwksCache } from './jwks-cache.js';
import { defaultResolve, guardedLookup, type Resolve, type SsrfPolicy } from '@caracal/ssrf-guard';
import { RevocationCache } from './revocations.js';
import { protectedResourceRoutes } from './routes/protected-resource.js';
import { proxyRoutes } from './routes/proxy.js';
import { StsClient } from './sts-client.js';

export const GROUPS: readonly GroupSpec[] = [
  { stream: STREAMS.sessionsRevoke, group: 'gateway' },
  { stream: STREAMS.keysInvalidate, group: 'gateway' },
];

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
    lookup: guardedLookup(resolve, policy),
    keyspace: new AuthorityKeyspace(config.REDIS_KEY_PREFIX),
    now: Date.now,
  };
  protectedResourceRoutes(app, ctx);
  proxyRoutes(app, ctx);

  const consumers: StreamConsumer[] = [];
  // Each blocking reader needs its own connection; they are closed in stop().
  const readers = [1, 2].map((n) => createRedis(config.REDIS_URL, `caracal-gateway-stream-${n}`, logger));
  const key = config.STREAMS_HMAC_KEY;
  if (key) {
    const consume = (stream: string, redis: (typeof readers)[number], handle: (f: Record<string, string>) => void) =>
      new StreamConsumer({
        redis,
        keys: deps.keys,
        stream,
        group: 'gateway',
        consumer: `gateway-${process.pid}`,
        blockMs: 500,
        verify: (m) => (verifyFields(stream, m.fields, key) ? { ok: true } : { ok: false, reason: 'bad_signature' }),
        handle: async (m) => handle(m.fields),
        hooks: { onRejected: (_m, reason) => metrics.streamRejected.inc({ stream, reason }) },
      });
    consumers.push(
      consume(STREAMS.sessionsRevoke, readers[0]!, (f) => f.target_id && revocations.add(f.target_id)),
      consume(STREAMS.keysInvalidate, readers[1]!, (f) => f.zone_id && ctx.jwks.invalidate(f.zone_id)),
    );
  }
  app.addHook('onReady', async () => {
    for (const r of readers) r.connect().catch(() => undefined);
    revocations.start();
    for (const c of consumers) c.start();
  });
  return {
    app,
    stop: async () => {
      await Promise.all(consumers.map((c) => c.stop()));
      for (const r of readers) r.disconnect();
      await revocations.stop();
      await ctx.sts.close();
    },
  };
}
