// Stack settings kept in `caracal.env`: nothing secret lives here (R-SEC-2). Validated as a whole; every
// problem is reported with the file and line it came from.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseEnvFile, port } from '@caracal/config';
import { assertRolePrefix, SERVICE_NAMES, type ServiceName } from '@caracal/db';
import { CliError } from '../errors.js';

export const DEFAULT_PORTS: Record<ServiceName, number> = { api: 3000, coordinator: 4000, sts: 8080, gateway: 8081, audit: 9090 };

const portKey = (s: ServiceName) => `CARACAL_${s.toUpperCase()}_PORT`;
/** How many worker processes run a service on its one listening socket. */
export const workersKey = (s: ServiceName) => `CARACAL_${s.toUpperCase()}_WORKERS`;

export const MAX_WORKERS = 64;
const WORKERS_MESSAGE = `must be an integer from 1 to ${MAX_WORKERS}, or auto (one per core)`;
const workers = z
  .string()
  .refine((v) => v === 'auto' || (/^[1-9][0-9]*$/.test(v) && Number(v) <= MAX_WORKERS), WORKERS_MESSAGE)
  .transform((v): number | 'auto' => (v === 'auto' ? 'auto' : Number(v)));

/** A rotation limit in whole days (the evidence pack's key-freshness and secret-freshness checks, R-EVD-1). */
const maxAgeDays = (fallback: number) =>
  z
    .string()
    .refine((v) => /^[1-9][0-9]{0,3}$/.test(v) && Number(v) <= 3650, 'must be a whole number of days from 1 to 3650')
    .default(String(fallback))
    .transform(Number);

const schema = z
  .object({
    CARACAL_MODE: z.enum(['dev', 'stable']).default('stable'),
    CARACAL_RUNTIME: z.enum(['local', 'compose']).default('local'),
    CARACAL_DATABASE: z.enum(['managed', 'external']).default('managed'),
    CARACAL_REDIS: z.enum(['managed', 'external']).default('managed'),
    CARACAL_BIND_HOST: z.string().ip({ message: 'must be an IP address' }).default('127.0.0.1'),
    CARACAL_PG_PORT: port(55432),
    CARACAL_REDIS_PORT: port(56379),
    CARACAL_API_PORT: port(DEFAULT_PORTS.api),
    CARACAL_COORDINATOR_PORT: port(DEFAULT_PORTS.coordinator),
    CARACAL_STS_PORT: port(DEFAULT_PORTS.sts),
    CARACAL_GATEWAY_PORT: port(DEFAULT_PORTS.gateway),
    CARACAL_AUDIT_PORT: port(DEFAULT_PORTS.audit),
    CARACAL_API_WORKERS: workers.default('1'),
    CARACAL_COORDINATOR_WORKERS: workers.default('1'),
    CARACAL_STS_WORKERS: workers.default('1'),
    CARACAL_GATEWAY_WORKERS: workers.default('1'),
    CARACAL_AUDIT_WORKERS: workers.default('1'),
    CARACAL_ISSUER_URL: z.string().url('must be an absolute URL').optional(),
    CARACAL_DB_NAME: z.string().regex(/^[a-z][a-z0-9_]{0,40}$/, 'must match ^[a-z][a-z0-9_]{0,40}$').default('caracal'),
    CARACAL_DB_ROLE_PREFIX: z
      .string()
      .refine((v) => {
        try {
          return Boolean(assertRolePrefix(v));
        } catch {
          return false;
        }
      }, 'must match ^[a-z][a-z0-9_]{0,40}$')
      .default('caracal'),
    CARACAL_REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:._-]*$/, 'may only hold A-Z a-z 0-9 : . _ -').default(''),
    CARACAL_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    KEY_MAX_AGE_DAYS: maxAgeDays(90),
    SECRET_MAX_AGE_DAYS: maxAgeDays(365),
    /** The api's control endpoint (R-CTL-1); it also needs the gate file `control/enabled` in the home. */
    CARACAL_CONTROL_ENABLED: z.enum(['true', 'false'], { errorMap: () => ({ message: 'must be true or false' }) }).default('false'),
  })
  .strict();

export type StackSettings = z.output<typeof schema> & { ports: Record<ServiceName, number> };

export function parseSettings(text: string, label: string): StackSettings {
  const parsed = parseEnvFile(text, label);
  const problems = [...parsed.problems];
  const result = schema.safeParse(parsed.values);
  if (!result.success) {
    const at = (key: string) => `${label}${lineOf(text, key)}`;
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') problems.push(...issue.keys.map((k) => `${at(k)}: unknown key ${k}`));
      else problems.push(`${at(String(issue.path[0]))}: ${issue.path.join('.')}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new CliError(`${label} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 1, `fix ${label} or move it aside and run \`caracal init\``);
  }
  const s = result.data;
  const ports = Object.fromEntries(SERVICE_NAMES.map((n) => [n, s[portKey(n) as keyof typeof s] as number])) as Record<ServiceName, number>;
  const all = [...Object.values(ports), ...(s.CARACAL_DATABASE === 'managed' ? [s.CARACAL_PG_PORT] : []), ...(s.CARACAL_REDIS === 'managed' ? [s.CARACAL_REDIS_PORT] : [])];
  const dup = all.find((p, i) => all.indexOf(p) !== i);
  if (dup !== undefined) throw new CliError(`${label} is invalid: port ${dup} is assigned twice`);
  return { ...s, ports };
}

/** `:<line>` of the line that sets `key`, or nothing when the file does not set it (a default failed). */
function lineOf(text: string, key: string): string {
  const i = text.split(/\r?\n/).findIndex((l) => l.trim().startsWith(`${key}=`));
  return i < 0 ? '' : `:${i + 1}`;
}

/**
 * Workers per service: caracal.env, overridden by the same variable in `env` (the CLI's environment at `up`);
 * `auto` is one per core. A bad override is refused naming the variable.
 */
export function workerCounts(settings: StackSettings, env: NodeJS.ProcessEnv, cores: number = availableParallelism()): Record<ServiceName, number> {
  const problems: string[] = [];
  const counts = Object.fromEntries(
    SERVICE_NAMES.map((name) => {
      const key = workersKey(name);
      let value = settings[key as keyof StackSettings] as number | 'auto';
      const override = env[key];
      if (override !== undefined) {
        const r = workers.safeParse(override);
        if (r.success) value = r.data;
        else problems.push(`${key}=${override} (environment): ${WORKERS_MESSAGE}`);
      }
      return [name, value === 'auto' ? Math.min(Math.max(cores, 1), MAX_WORKERS) : value];
    }),
  ) as Record<ServiceName, number>;
  if (problems.length > 0) throw new CliError(problems.join('\n'), 1, `unset it or give ${WORKERS_MESSAGE.replace('must be ', '')}`);
  return counts;
}

export function loadSettings(path: string): StackSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new CliError(`${path} cannot be read`, 1, 'run `caracal init` first');
  }
  return parseSettings(text, path);
}

export interface TemplateInput {
  mode: 'dev' | 'stable';
  runtime: 'local' | 'compose';
  database: 'managed' | 'external';
  redis: 'managed' | 'external';
  issuerUrl?: string;
  pgPort?: number;
  redisPort?: number;
  ports?: Partial<Record<ServiceName, number>>;
  dbName?: string;
  rolePrefix?: string;
  redisKeyPrefix?: string;
}

export function renderTemplate(t: TemplateInput): string {
  const ports = { ...DEFAULT_PORTS, ...t.ports };
  const lines = [
    '# Caracal stack settings. Nothing secret belongs here: secrets live in secrets/ (one file each).',
    '# Edit and run `caracal up` again to apply.',
    `CARACAL_MODE=${t.mode}`,
    `CARACAL_RUNTIME=${t.runtime}`,
    `CARACAL_DATABASE=${t.database}`,
    `CARACAL_REDIS=${t.redis}`,
    'CARACAL_BIND_HOST=127.0.0.1',
    `CARACAL_PG_PORT=${t.pgPort ?? 55432}`,
    `CARACAL_REDIS_PORT=${t.redisPort ?? 56379}`,
    ...SERVICE_NAMES.map((s) => `${portKey(s)}=${ports[s]}`),
    `CARACAL_ISSUER_URL=${t.issuerUrl ?? `http://127.0.0.1:${ports.sts}`}`,
    `CARACAL_DB_NAME=${t.dbName ?? 'caracal'}`,
    `CARACAL_DB_ROLE_PREFIX=${t.rolePrefix ?? 'caracal'}`,
    `CARACAL_REDIS_KEY_PREFIX=${t.redisKeyPrefix ?? ''}`,
    'CARACAL_LOG_LEVEL=info',
    '# Worker processes per service (1-64, or auto = one per core); the same variable set for `caracal up` wins.',
    ...SERVICE_NAMES.map((s) => `${workersKey(s)}=1`),
    '# Rotation limits in days (1-3650) that `caracal evidence-pack` holds zone signing keys and the HMAC keys and KEK to.',
    'KEY_MAX_AGE_DAYS=90',
    'SECRET_MAX_AGE_DAYS=365',
  ];
  return `${lines.join('\n')}\n`;
}
