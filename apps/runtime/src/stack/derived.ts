// Renders the derived secret files from their inputs (R-SEC-1): the migration URL, one URL per service role,
// and the Redis URL. A file is rewritten only when its content changes.
import { SERVICE_NAMES, roleName } from '@caracal/db';
import { readSecret, renderDerived } from '../home/secret-files.js';
import { managedRedisUrl } from '../managed/redis.js';
import { adminDatabaseUrl, type StackContext } from './context.js';

export function renderDerivedFiles(ctx: StackContext): string[] {
  const dir = ctx.home.secretsDir;
  const written: string[] = [];
  const admin = adminDatabaseUrl(ctx);
  if (renderDerived(dir, 'databaseUrl', admin)) written.push('databaseUrl');
  for (const service of SERVICE_NAMES) {
    const u = new URL(admin);
    u.username = roleName(ctx.settings.CARACAL_DB_ROLE_PREFIX, service);
    u.password = readSecret(dir, `${service}DbPassword`);
    if (renderDerived(dir, `${service}DatabaseUrl`, u.toString())) written.push(`${service}DatabaseUrl`);
  }
  const redis =
    ctx.settings.CARACAL_REDIS === 'external'
      ? readSecret(dir, 'externalRedisUrl')
      : managedRedisUrl({ password: readSecret(dir, 'redisPassword'), port: ctx.settings.CARACAL_REDIS_PORT });
  if (renderDerived(dir, 'redisUrl', redis)) written.push('redisUrl');
  return written;
}

export function rolePasswords(ctx: StackContext): Record<(typeof SERVICE_NAMES)[number], string> {
  return Object.fromEntries(SERVICE_NAMES.map((s) => [s, readSecret(ctx.home.secretsDir, `${s}DbPassword`)])) as Record<
    (typeof SERVICE_NAMES)[number],
    string
  >;
}
