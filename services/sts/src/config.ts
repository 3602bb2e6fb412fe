// Configuration of the sts service, parsed once in main.ts (R-SHAPE-4, R-MODE-1).
import { hexKey, httpUrl, type Env } from '@caracal/config';
import { baseSchema, loadServiceConfig, isLoopbackHttpOrHttps } from '@caracal/service-kit';
import type { z } from 'zod';

const schema = baseSchema(8080).extend({
  SECRET_STORE_KEK: hexKey(32).optional(),
  GATEWAY_STS_HMAC_KEY: hexKey(32).optional(),
  CARACAL_ISSUER_URL: httpUrl.optional(),
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
