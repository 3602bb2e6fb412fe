// Configuration of the gateway service, parsed once in main.ts (R-SHAPE-4, R-MODE-1).
import { hexKey, httpUrl, type Env } from '@caracal/config';
import { baseSchema, loadServiceConfig, isLoopbackHttpOrHttps } from '@caracal/service-kit';
import type { z } from 'zod';

const schema = baseSchema(8081).extend({
  GATEWAY_STS_HMAC_KEY: hexKey(32).optional(),
  CARACAL_STS_URL: httpUrl.optional(),
});

export type GatewayConfig = z.output<typeof schema>;

export const spec = {
  schema,
  stableRequired: ['GATEWAY_STS_HMAC_KEY', 'CARACAL_STS_URL'],
  // Plain http towards another host would expose mandates on the wire: refused in stable mode (R-MODE-1).
  refine: (c: GatewayConfig) =>
    c.CARACAL_MODE === 'stable' && c.CARACAL_STS_URL && !isLoopbackHttpOrHttps(c.CARACAL_STS_URL)
      ? ['CARACAL_STS_URL: plain http is only allowed to a loopback address in stable mode']
      : [],
};

export function loadConfig(env: Env): GatewayConfig {
  return loadServiceConfig(spec, env);
}
