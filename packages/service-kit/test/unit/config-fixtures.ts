// What the service-config tests share: a complete stable-mode environment and a reader of refusals.
import { expect } from 'vitest';
import { ConfigError, type Env } from '@caracal/config';
import { baseSchema, loadServiceConfig } from '../../src/service-config.js';

export const HEX32 = '7e'.repeat(32);
export const spec = { schema: baseSchema(3000) };

export const STABLE: Env = {
  DATABASE_URL: 'postgres://svc:pw@db:5432/caracal',
  REDIS_URL: 'redis://redis:6379/0',
  STREAMS_HMAC_KEY: HEX32,
  AUDIT_HMAC_KEY: HEX32,
  METRICS_BEARER: 'ab'.repeat(16),
};

/** The problems a refused configuration lists; fails the test when it is accepted. */
export function problems(env: Env, s: Parameters<typeof loadServiceConfig>[0] = spec): readonly string[] {
  try {
    loadServiceConfig(s, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the configuration to be refused');
}
