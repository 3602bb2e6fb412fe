// Configuration of the sts service, parsed once in main.ts (R-SHAPE-4, R-MODE-1, R-STS-4).
import { hexKey, httpUrl, type Env } from '@caracal/config';
import { baseSchema, isLoopbackHttpOrHttps, loadServiceConfig } from '@caracal/service-kit';
import { z } from 'zod';

const schema = baseSchema(8080).extend({
  SECRET_STORE_KEK: hexKey(32).optional(),
  GATEWAY_STS_HMAC_KEY: hexKey(32).optional(),
  CARACAL_ISSUER_URL: httpUrl.optional(),
  /** Session mandates live at most 60 minutes (R-STS-2). */
  SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(3600),
  RESOURCE_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(900),
  /** Failed client authentications per (client, source address) per minute; past it that address gets slow_down (R-STS-4). */
  AUTH_FAILURES_PER_MIN: z.coerce.number().int().min(1).max(100_000).default(60),
  /**
   * Failed authentications per client per minute from all addresses together; past it each address that has
   * already failed gets slow_down, while an address with no failure (the real client) still gets in.
   */
  AUTH_FAILURES_PER_CLIENT_PER_MIN: z.coerce.number().int().min(1).max(10_000_000).default(600),
  /** Mints per (zone, resource, actor) per minute (R-STS-4). */
  MINTS_PER_MIN: z.coerce.number().int().min(1).max(10_000_000).default(6000),
  /** How long an approver has to decide a step-up request, and the client to use the approval (R-STS-5). */
  APPROVAL_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),
  /**
   * How long one zone policy set may evaluate (R-POL-3). A wasm call cannot be interrupted: the evaluation is
   * measured, and one that ran longer denies with policy_error.
   */
  POLICY_EVAL_BUDGET_MS: z.coerce.number().min(0.1).max(10_000).default(25),
  /** How often the STS compares the zones' active policy versions with Postgres (besides caracal.policy.invalidate). */
  POLICY_RECHECK_MS: z.coerce.number().int().min(200).max(300_000).default(5000),
  /**
   * Authority contexts each STS process keeps in memory, dropped on PostgreSQL's notification of a change in their
   * zone (authority/view.ts); 0 reads every context from PostgreSQL.
   */
  AUTHORITY_VIEW_MAX_ENTRIES: z.coerce.number().int().min(0).max(1_000_000).default(20_000),
  /**
   * Longest the authority view serves from memory after its notification channel last proved itself (it is tried
   * four times in that span); past it, or with the channel down, every context is read from PostgreSQL.
   */
  AUTHORITY_VIEW_STALE_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  /** The memory maximum of each policy module, in 64 KiB wasm pages (256 = 16 MiB). */
  POLICY_MEMORY_MAX_PAGES: z.coerce.number().int().min(8).max(16_384).default(256),
});

export type StsConfig = z.output<typeof schema>;

export const spec = {
  schema,
  stableRequired: ['SECRET_STORE_KEK', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ISSUER_URL'],
  // Plain http towards another host would expose mandates on the wire: refused in stable mode (R-MODE-1).
  refine: (c: StsConfig) =>
    c.CARACAL_MODE === 'stable' && c.CARACAL_ISSUER_URL && !isLoopbackHttpOrHttps(c.CARACAL_ISSUER_URL)
      ? ['CARACAL_ISSUER_URL: plain http is only allowed to a loopback address in stable mode']
      : [],
};

export function loadConfig(env: Env): StsConfig {
  return loadServiceConfig(spec, env);
}
