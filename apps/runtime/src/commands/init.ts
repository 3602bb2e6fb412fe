// `caracal init`: creates the operator home, the settings template and the secrets (R-HOME-1, R-SEC-1).
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import * as prompts from '@clack/prompts';
import { readSecretFile } from '@caracal/config';
import { rolePrefixFor, SERVICE_NAMES, type ServiceName } from '@caracal/db';
import { UsageError, CliError } from '../errors.js';
import { ensureSecrets, ensureSecretsDir, storeInput } from '../home/secret-files.js';
import { loadSettings, renderTemplate, type TemplateInput } from '../home/settings.js';
import { homeLayout } from '../stack/context.js';
import { renderDerivedFiles } from '../stack/derived.js';
import { installRoot } from '../version.js';
import type { Io } from './io.js';

export interface InitOptions {
  yes?: boolean;
  json?: boolean;
  mode?: 'dev' | 'stable';
  runtime?: 'local' | 'compose';
  databaseUrlFile?: string;
  redisUrlFile?: string;
  issuerUrl?: string;
  pgPort?: number;
  redisPort?: number;
  port?: string[];
  redisKeyPrefix?: string;
}

export interface InitReport {
  home: string;
  config: 'created' | 'kept';
  secretsCreated: string[];
  derivedWritten: string[];
}

function parseServicePorts(values: readonly string[] = []): Partial<Record<ServiceName, number>> {
  const out: Partial<Record<ServiceName, number>> = {};
  for (const v of values) {
    const m = /^([a-z]+)=(\d{1,5})$/.exec(v);
    const service = m?.[1] as ServiceName | undefined;
    const n = Number(m?.[2]);
    if (!m || !service || !SERVICE_NAMES.includes(service) || n < 1 || n > 65535) {
      throw new UsageError(`--port ${v}: expected SERVICE=PORT with SERVICE one of ${SERVICE_NAMES.join(', ')}`);
    }
    out[service] = n;
  }
  return out;
}

/** An external URL comes from a file or the environment, never argv (R-SEC-2). */
function externalUrl(flag: string, file: string | undefined, envValue: string | undefined, protocols: RegExp): string | undefined {
  let value = envValue;
  if (file) {
    const res = readSecretFile(file);
    if (!res.ok) throw new UsageError(`${flag}: ${res.problem}`);
    value = res.value;
  }
  if (value === undefined || value === '') return undefined;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`${flag}: not a valid URL`);
  }
  if (!protocols.test(u.protocol)) throw new UsageError(`${flag}: unsupported scheme ${u.protocol}`);
  return value;
}

async function askTemplate(base: TemplateInput): Promise<TemplateInput> {
  const answer = <T>(v: T | symbol): T => {
    if (prompts.isCancel(v)) throw new CliError('init cancelled', 1);
    return v as T;
  };
  prompts.intro('caracal init');
  const runtime = answer(
    await prompts.select({
      message: 'Runtime (--runtime)',
      options: [
        { value: 'local', label: 'local: services as Node processes on this machine' },
        { value: 'compose', label: 'compose: Docker Compose (needs a Docker engine)' },
      ],
      initialValue: base.runtime,
    }),
  ) as TemplateInput['runtime'];
  const mode = answer(
    await prompts.select({
      message: 'Mode (--mode)',
      options: [
        { value: 'stable', label: 'stable: fail closed at startup' },
        { value: 'dev', label: 'dev: insecure relaxations allowed' },
      ],
      initialValue: base.mode,
    }),
  ) as TemplateInput['mode'];
  const issuerUrl = answer(
    await prompts.text({ message: 'Issuer URL (--issuer-url)', initialValue: base.issuerUrl ?? `http://127.0.0.1:${base.ports?.sts ?? 8080}` }),
  ) as string;
  prompts.outro('settings chosen');
  return { ...base, runtime, mode, issuerUrl };
}

export async function runInit(opts: InitOptions, io: Io): Promise<InitReport> {
  const home = homeLayout(io.env);
  const dbUrl = externalUrl('--database-url-file', opts.databaseUrlFile, io.env.CARACAL_DATABASE_URL, /^postgres(ql)?:$/);
  const redisUrl = externalUrl('--redis-url-file', opts.redisUrlFile, io.env.CARACAL_REDIS_URL, /^rediss?:$/);
  if (opts.issuerUrl !== undefined && !/^https?:\/\/[^/]/.test(opts.issuerUrl)) throw new UsageError('--issuer-url must be an http(s) URL');
  if (opts.redisKeyPrefix !== undefined && !/^[A-Za-z0-9:._-]*$/.test(opts.redisKeyPrefix)) {
    throw new UsageError('--redis-key-prefix may only hold A-Z a-z 0-9 : . _ -');
  }
  const ports = parseServicePorts(opts.port);

  for (const dir of [home.root, home.logsDir, home.dataDir, home.controlDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  ensureSecretsDir(home.secretsDir);

  let config: InitReport['config'] = 'kept';
  if (!existsSync(home.envFile)) {
    const dbName = dbUrl ? decodeURIComponent(new URL(dbUrl).pathname.slice(1)) || 'postgres' : 'caracal';
    let template: TemplateInput = {
      mode: opts.mode ?? 'stable',
      runtime: opts.runtime ?? 'local',
      database: dbUrl ? 'external' : 'managed',
      redis: redisUrl ? 'external' : 'managed',
      issuerUrl: opts.issuerUrl,
      pgPort: opts.pgPort,
      redisPort: opts.redisPort,
      ports,
      dbName: dbUrl ? dbName.replace(/[^a-z0-9_]/g, '_').slice(0, 40) : 'caracal',
      rolePrefix: dbUrl ? rolePrefixFor(dbName) : 'caracal',
      redisKeyPrefix: opts.redisKeyPrefix,
    };
    if (io.out.interactive && !opts.yes) template = await askTemplate(template);
    // Exclusive create: settings an operator edited are never clobbered (R-HOME-1).
    const fd = openSync(home.envFile, 'wx', 0o600);
    try {
      writeSync(fd, renderTemplate(template));
    } finally {
      closeSync(fd);
    }
    config = 'created';
  }
  const secretsCreated = ensureSecrets(home.secretsDir);
  if (dbUrl) storeInput(home.secretsDir, 'externalDatabaseUrl', dbUrl);
  if (redisUrl) storeInput(home.secretsDir, 'externalRedisUrl', redisUrl);
  const settings = loadSettings(home.envFile);
  const derivedWritten = renderDerivedFiles({ home, settings, root: installRoot(io.env), env: io.env });
  return { home: home.root, config, secretsCreated, derivedWritten };
}

export function printInit(report: InitReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(report);
  io.out.data(`home: ${report.home}`);
  io.out.data(`caracal.env: ${report.config}`);
  io.out.data(report.secretsCreated.length ? `secrets created: ${report.secretsCreated.join(', ')}` : 'secrets created: none (all present)');
}
