// Configuration of the coordinator service, parsed once in main.ts (R-SHAPE-4, R-MODE-1).
import { hexKey, type Env } from '@caracal/config';
import { baseSchema, loadServiceConfig } from '@caracal/service-kit';
import type { z } from 'zod';

const schema = baseSchema(4000).extend({
  IDEMPOTENCY_HMAC_KEY: hexKey(32).optional(),
});

export type CoordinatorConfig = z.output<typeof schema>;

export const spec = {
  schema,
  stableRequired: ['IDEMPOTENCY_HMAC_KEY'],
};

export function loadConfig(env: Env): CoordinatorConfig {
  return loadServiceConfig(spec, env);
}
