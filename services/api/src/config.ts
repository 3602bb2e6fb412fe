// Configuration of the api service, parsed once in main.ts (R-SHAPE-4, R-MODE-1).
import { hexKey, type Env } from '@caracal/config';
import { baseSchema, loadServiceConfig, outboxKeys, outboxProblems } from '@caracal/service-kit';
import { z } from 'zod';

const schema = baseSchema(3000).extend({
  SECRET_STORE_KEK: hexKey(32).optional(),
  /** The bootstrap admin token (global, read/write/approve); further tokens live in the database. */
  CARACAL_ADMIN_TOKEN: hexKey(32).optional(),
  API_RATE_PER_MIN: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /** How long a retired signing key keeps verifying: at least the longest mandate lifetime. */
  KEY_OVERLAP_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  /** Revocations and key rotations are announced through the outbox (R-STR-5). */
  ...outboxKeys,
});

export type ApiConfig = z.output<typeof schema>;

export const spec = {
  schema,
  stableRequired: ['SECRET_STORE_KEK', 'CARACAL_ADMIN_TOKEN'],
  refine: outboxProblems,
};

export function loadConfig(env: Env): ApiConfig {
  return loadServiceConfig(spec, env);
}
