// Configuration of the api service, parsed once in main.ts (R-SHAPE-4, R-MODE-1).
import { hexKey, type Env } from '@caracal/config';
import { baseSchema, loadServiceConfig } from '@caracal/service-kit';
import type { z } from 'zod';

const schema = baseSchema(3000).extend({
  SECRET_STORE_KEK: hexKey(32).optional(),
});

export type ApiConfig = z.output<typeof schema>;

export const spec = {
  schema,
  stableRequired: ['SECRET_STORE_KEK'],
};

export function loadConfig(env: Env): ApiConfig {
  return loadServiceConfig(spec, env);
}
