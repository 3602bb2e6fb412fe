// The environment each service process receives: settings plus paths to only the secret files it needs
// (R-SEC-2: files, never values; least privilege per service). The operator's own environment is not passed on.
import { join } from 'node:path';
import type { ServiceName } from '@caracal/db';
import { serviceUrl, type StackContext } from './context.js';

const COMMON_SECRETS = { STREAMS_HMAC_KEY: 'streamsHmacKey', AUDIT_HMAC_KEY: 'auditHmacKey', METRICS_BEARER: 'metricsBearer' };

const SERVICE_SECRETS: Record<ServiceName, Record<string, string>> = {
  api: { SECRET_STORE_KEK: 'secretStoreKek', CARACAL_ADMIN_TOKEN: 'caracalAdminToken' },
  coordinator: { IDEMPOTENCY_HMAC_KEY: 'idempotencyHmacKey', CARACAL_COORDINATOR_TOKEN: 'caracalCoordinatorToken' },
  sts: { SECRET_STORE_KEK: 'secretStoreKek', GATEWAY_STS_HMAC_KEY: 'gatewayStsHmacKey' },
  gateway: { GATEWAY_STS_HMAC_KEY: 'gatewayStsHmacKey' },
  audit: {},
};

export function serviceEnv(ctx: StackContext, service: ServiceName): Record<string, string> {
  const s = ctx.settings;
  const secret = (name: string) => join(ctx.home.secretsDir, name);
  const env: Record<string, string> = {
    PATH: ctx.env.PATH ?? '/usr/bin:/bin',
    NODE_ENV: 'production',
    CARACAL_MODE: s.CARACAL_MODE,
    HOST: s.CARACAL_BIND_HOST,
    PORT: String(s.ports[service]),
    LOG_LEVEL: s.CARACAL_LOG_LEVEL,
    REDIS_KEY_PREFIX: s.CARACAL_REDIS_KEY_PREFIX,
    DATABASE_URL_FILE: secret(`${service}DatabaseUrl`),
    REDIS_URL_FILE: secret('redisUrl'),
    // The service creates it (0700) and refuses to start if it is not private (R-AUD-1).
    AUDIT_SPILL_DIR: join(ctx.home.spoolDir, service),
  };
  for (const [key, file] of Object.entries({ ...COMMON_SECRETS, ...SERVICE_SECRETS[service] })) env[`${key}_FILE`] = secret(file);
  // The coordinator verifies session mandates against the same issuer (R-CO-1).
  if (service === 'sts' || service === 'coordinator') env.CARACAL_ISSUER_URL = s.CARACAL_ISSUER_URL ?? serviceUrl(ctx, 'sts');
  // The control endpoint (R-CTL-1) is off unless caracal.env enables it; even then it answers 503 until the
  // operator creates the gate file.
  if (service === 'api' && s.CARACAL_CONTROL_ENABLED === 'true') {
    env.CARACAL_CONTROL_ENABLED = 'true';
    env.CARACAL_CONTROL_GATE_FILE = join(ctx.home.controlDir, 'enabled');
    env.CARACAL_ISSUER_URL = s.CARACAL_ISSUER_URL ?? serviceUrl(ctx, 'sts');
  }
  if (service === 'gateway') {
    env.CARACAL_STS_URL = serviceUrl(ctx, 'sts');
    env.CARACAL_ISSUER_URL = s.CARACAL_ISSUER_URL ?? serviceUrl(ctx, 'sts');
    env.GATEWAY_PUBLIC_URL = serviceUrl(ctx, 'gateway');
  }
  return env;
}
