// The environment every service shares; each service extends it. Stable mode fails closed (R-MODE-1).
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { hexKey, logLevel, mode, parseConfig, port, type Env } from '@caracal/config';
import { HANDOVER_CONSUMER } from '@caracal/streams';

export const SECRET_KEYS = [
  'DATABASE_URL',
  'REDIS_URL',
  'STREAMS_HMAC_KEY',
  'AUDIT_HMAC_KEY',
  'METRICS_BEARER',
  'SECRET_STORE_KEK',
  'IDEMPOTENCY_HMAC_KEY',
  'GATEWAY_STS_HMAC_KEY',
  'CARACAL_ADMIN_TOKEN',
  'CARACAL_COORDINATOR_TOKEN',
] as const;

export const baseSchema = (defaultPort: number) =>
  z.object({
    CARACAL_MODE: mode,
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: port(defaultPort),
    LOG_LEVEL: logLevel,
    DATABASE_URL: z
      .string({ required_error: 'is required' })
      .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL'),
    REDIS_URL: z.string({ required_error: 'is required' }).refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// URL'),
    REDIS_KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:._-]*$/, 'may only hold A-Z a-z 0-9 : . _ -')
      .default(''),
    STREAMS_HMAC_KEY: hexKey(32).optional(),
    AUDIT_HMAC_KEY: hexKey(32).optional(),
    METRICS_BEARER: hexKey(16).optional(),
    /**
     * Where audit events are kept while Redis cannot take them (R-AUD-1). Producers (api, sts, gateway) refuse to
     * start without it in stable mode; in dev mode they fall back to a directory under the system temp dir.
     */
    AUDIT_SPILL_DIR: z.string().refine((v) => isAbsolute(v), 'must be an absolute path').optional(),
    /** Beyond this many bytes of spilled events, further events are counted lost and readiness fails. */
    AUDIT_SPILL_MAX_BYTES: z.coerce.number().int('must be an integer').min(1, 'must be at least 1').max(2 ** 50, 'must be at most 2^50').default(1024 ** 3),
    /**
     * Bounded waits (§15): a query on a request path that has no answer within this many ms fails, and the request
     * is a 503, whether Postgres is down, paused or stuck on a lock. Also bounds taking a connection from the pool.
     */
    PG_QUERY_TIMEOUT_MS: z.coerce.number().int('must be an integer').min(100, 'must be at least 100').max(600_000, 'must be at most 600000').default(2000),
    /** The same bound for every Redis command on a request path (blocking stream reads have their own). */
    REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int('must be an integer').min(100, 'must be at least 100').max(600_000, 'must be at most 600000').default(2000),
    /** How long a draining process waits for active requests, after closing its idle connections. */
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
    /**
     * A draining process answers kept-alive connections with `Connection: close` for this long, so clients move
     * to another process on their next request, before closing the connections that are still idle.
     */
    DRAIN_IDLE_MS: z.coerce.number().int('must be an integer').min(0, 'must be at least 0').max(120_000, 'must be at most 120000').default(2000),
    /** This process's id (the supervisor sets it); generated when unset. Names the audit stream consumer. */
    CARACAL_INSTANCE_ID: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'may only hold A-Z a-z 0-9 . _ : - (1 to 128 characters)')
      .refine((v) => v !== HANDOVER_CONSUMER, `'${HANDOVER_CONSUMER}' is reserved`)
      .optional(),
    /** A listening socket inherited from the supervisor: the service accepts on it instead of HOST:PORT. */
    CARACAL_LISTEN_FD: z.coerce.number({ invalid_type_error: 'must be a file descriptor number' }).int('must be an integer').min(3, 'must be 3 or more (an inherited socket)').max(65_535, 'must be at most 65535').optional(),
  });

export type BaseConfig = z.output<ReturnType<typeof baseSchema>>;

/** Keys every service must have in stable mode, plus the ones a service names for itself. */
export const STABLE_REQUIRED = ['STREAMS_HMAC_KEY', 'AUDIT_HMAC_KEY', 'METRICS_BEARER'] as const;

export interface ServiceConfigSpec<S extends z.ZodTypeAny> {
  schema: S;
  /** Extra keys required in stable mode (KEK, service URLs, …). */
  stableRequired?: readonly string[];
  /** Checks on the parsed config; only called when the schema passed. */
  refine?: (config: z.output<S>) => string[];
}

export function loadServiceConfig<S extends z.ZodTypeAny>(spec: ServiceConfigSpec<S>, env: Env): z.output<S> {
  return parseConfig(spec.schema, env, {
    fileKeys: SECRET_KEYS,
    refine: (config, env) => {
      const problems: string[] = [];
      // Read from the raw environment so these are reported alongside schema problems.
      // Anything but an explicit `dev` (including an invalid mode) is held to stable rules: fail closed.
      if (env.CARACAL_MODE !== 'dev') {
        for (const key of [...STABLE_REQUIRED, ...(spec.stableRequired ?? [])]) {
          if (env[key] === undefined || env[key] === '') problems.push(`${key}: is required in stable mode${(SECRET_KEYS as readonly string[]).includes(key) ? ` (set ${key}_FILE)` : ''}`);
        }
      }
      return config === undefined ? problems : [...problems, ...(spec.refine?.(config) ?? [])];
    },
  });
}

/** Plain http is only tolerated towards loopback; stable mode refuses anything else (R-MODE-1). */
export function isLoopbackHttpOrHttps(url: string): boolean {
  const u = new URL(url);
  if (u.protocol === 'https:') return true;
  // URL normalises IPv4 hosts to dotted quads, so only a real 127/8 address matches; a DNS name such as
  // `127.0.0.1.nip.io` merely starts like one and may resolve anywhere.
  return ['localhost', '[::1]'].includes(u.hostname) || /^127(?:\.\d{1,3}){3}$/.test(u.hostname);
}
