// Everything a stack command needs, resolved once: home layout, settings, install root, binaries.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NAMES, type ServiceName } from '@caracal/db';
import { CliError } from '../errors.js';
import { layout, resolveHome, type HomeLayout } from '../home/paths.js';
import { readSecret } from '../home/secret-files.js';
import { loadSettings, type StackSettings } from '../home/settings.js';
import { findPostgres, findRedisServer } from '../managed/binaries.js';
import { managedAdminUrl, type ManagedPostgres } from '../managed/postgres.js';
import type { ManagedRedis } from '../managed/redis.js';
import { isRoot } from '../managed/run.js';
import { installRoot } from '../version.js';

export interface StackContext {
  home: HomeLayout;
  settings: StackSettings;
  root: string;
  env: NodeJS.ProcessEnv;
}

export function homeLayout(env: NodeJS.ProcessEnv): HomeLayout {
  return layout(resolveHome(env), isRoot());
}

export function isInitialised(home: HomeLayout): boolean {
  return existsSync(home.envFile);
}

export function loadContext(env: NodeJS.ProcessEnv): StackContext {
  const home = homeLayout(env);
  if (!isInitialised(home)) throw new CliError(`${home.root} is not initialised (no caracal.env)`, 1, 'run `caracal init` first');
  return { home, settings: loadSettings(home.envFile), root: installRoot(env), env };
}

export function managedPostgres(ctx: StackContext): ManagedPostgres {
  const bin = findPostgres(ctx.env);
  if (!bin) throw new CliError('PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found');
  return {
    bin,
    dataDir: ctx.home.postgresData,
    logFile: ctx.home.postgresLog,
    port: ctx.settings.CARACAL_PG_PORT,
    superuser: 'caracal',
    // Read only when needed (start), so stopping works even after the secrets were purged.
    get password() {
      return readSecret(ctx.home.secretsDir, 'postgresPassword');
    },
    database: ctx.settings.CARACAL_DB_NAME,
  };
}

export function managedRedis(ctx: StackContext): ManagedRedis {
  const server = findRedisServer(ctx.env);
  if (!server) throw new CliError('redis-server was not found');
  return {
    server,
    dir: ctx.home.redisDir,
    logFile: join(ctx.home.logsDir, 'redis.log'),
    port: ctx.settings.CARACAL_REDIS_PORT,
    get password() {
      return readSecret(ctx.home.secretsDir, 'redisPassword');
    },
    baseConfig: join(ctx.root, 'infra', 'redis', 'redis.conf'),
  };
}

/** The admin (migration) URL: the managed superuser, or the external URL given at init. */
export function adminDatabaseUrl(ctx: StackContext): string {
  if (ctx.settings.CARACAL_DATABASE === 'external') return readSecret(ctx.home.secretsDir, 'externalDatabaseUrl');
  return managedAdminUrl({ superuser: 'caracal', password: readSecret(ctx.home.secretsDir, 'postgresPassword'), port: ctx.settings.CARACAL_PG_PORT }, ctx.settings.CARACAL_DB_NAME);
}

export function serviceUrl(ctx: StackContext, service: ServiceName): string {
  const host = ctx.settings.CARACAL_BIND_HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${ctx.settings.ports[service]}`;
}

export const services = SERVICE_NAMES;
