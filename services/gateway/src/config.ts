// Configuration of the gateway service, parsed once in main.ts (R-SHAPE-4, R-MODE-1, R-GW-1..4).
import { bool, hexKey, httpUrl, type Env } from '@caracal/config';
import { baseSchema, isLoopbackHttpOrHttps, loadServiceConfig } from '@caracal/service-kit';
import { z } from 'zod';

const schema = baseSchema(8081).extend({
  GATEWAY_STS_HMAC_KEY: hexKey(32).optional(),
  CARACAL_STS_URL: httpUrl.optional(),
  /** The issuer every mandate must carry (the STS's CARACAL_ISSUER_URL). */
  CARACAL_ISSUER_URL: httpUrl.optional(),
  /** Base URL callers use to reach this gateway; named in RFC 9728 metadata. */
  GATEWAY_PUBLIC_URL: httpUrl.optional(),
  GATEWAY_BODY_LIMIT_BYTES: z.coerce.number().int().min(1).max(1024 * 1024 * 1024).default(10 * 1024 * 1024),
  GATEWAY_RESPONSE_LIMIT_BYTES: z.coerce.number().int().min(1).max(4 * 1024 * 1024 * 1024).default(100 * 1024 * 1024),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  STS_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
  REVOCATION_SNAPSHOT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  REVOCATION_STALE_MS: z.coerce.number().int().min(500).max(3_600_000).default(30_000),
  JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  /** Zones whose keys are held at once (least recently used evicted): the cache is keyed by unverified input. */
  JWKS_MAX_ZONES: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  /** How long a zone that publishes no keys is remembered as unknown. */
  JWKS_NEGATIVE_TTL_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  /** JWKS fetches a minute, across all zones the revocation snapshot has not seen yet. */
  JWKS_UNKNOWN_ZONE_FETCHES_PER_MIN: z.coerce.number().int().min(0).max(100_000).default(60),
  /**
   * The longest mandate lifetime accepted (exp - iat, and exp - now). Defaults to the most the STS can be
   * configured to issue (SESSION_TTL_SECONDS and RESOURCE_TTL_SECONDS are capped at 3600, R-STS-2).
   */
  GATEWAY_MAX_MANDATE_LIFETIME_SECONDS: z.coerce.number().int().min(1).max(3600).default(3600),
  /** Comma-separated hosts upstreams may name; empty means any host that passes the address checks. */
  GATEWAY_ALLOW_HOSTS: z.string().optional(),
  /** Also refuse loopback, RFC 1918, CGNAT and ULA upstream addresses. */
  GATEWAY_BLOCK_PRIVATE: bool(false),
});

export type GatewayConfig = z.output<typeof schema>;

const remoteHttp = (url: string | undefined) => url !== undefined && !isLoopbackHttpOrHttps(url);

export const spec = {
  schema,
  stableRequired: ['GATEWAY_STS_HMAC_KEY', 'CARACAL_STS_URL', 'CARACAL_ISSUER_URL'],
  // Plain http towards another host would expose mandates and credentials on the wire (R-MODE-1).
  refine: (c: GatewayConfig) => {
    if (c.CARACAL_MODE !== 'stable') return [];
    return (['CARACAL_STS_URL', 'CARACAL_ISSUER_URL'] as const).filter((k) => remoteHttp(c[k])).map((k) => `${k}: plain http is only allowed to a loopback address in stable mode`);
  },
};

export function loadConfig(env: Env): GatewayConfig {
  return loadServiceConfig(spec, env);
}
