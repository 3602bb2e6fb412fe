// Configuration of the coordinator service, parsed once in main.ts (R-SHAPE-4, R-MODE-1).
import { hexKey, type Env } from '@caracal/config';
import { baseSchema, loadServiceConfig, outboxKeys, outboxProblems } from '@caracal/service-kit';
import { z } from 'zod';

const schema = baseSchema(4000).extend({
  IDEMPOTENCY_HMAC_KEY: hexKey(32).optional(),
  /** The operator's bearer for the coordinator (secret `caracalCoordinatorToken`, written by `caracal init`). */
  CARACAL_COORDINATOR_TOKEN: hexKey(32).optional(),
  /** The STS issuer: session mandates must carry it as `iss` and in `aud` (R-STS-2); unset, only the operator is let in. */
  CARACAL_ISSUER_URL: z.string().url('must be a URL').optional(),
  COORDINATOR_RATE_PER_MIN: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /** Live children (active or suspended) one agent session may have (R-CO-1 fan-out limit). */
  AGENT_FANOUT_LIMIT: z.coerce.number().int('must be an integer').min(1, 'must be at least 1').max(100_000, 'must be at most 100000').default(1000),
  /** How often the sweeper marks sessions past expires_at as expired. */
  AGENT_SWEEP_INTERVAL_MS: z.coerce.number().int('must be an integer').min(100, 'must be at least 100').max(3_600_000, 'must be at most 3600000').default(5000),
  /** How long a stored Idempotency-Key answer is replayed. */
  IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).max(7 * 86_400).default(86_400),
  /** Lifecycle and delegation messages are published through the outbox (R-STR-5). */
  ...outboxKeys,
});

export type CoordinatorConfig = z.output<typeof schema>;

export const spec = {
  schema,
  stableRequired: ['IDEMPOTENCY_HMAC_KEY', 'CARACAL_COORDINATOR_TOKEN'],
  refine: outboxProblems,
};

export function loadConfig(env: Env): CoordinatorConfig {
  return loadServiceConfig(spec, env);
}
