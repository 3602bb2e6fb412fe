// The evidence checks' connections (R-EVD-1): the owner Pool with every session read-only (the pack writes
// nothing) and Redis with the installation's key prefix. An unreachable one is a Dependency with the reason, so
// the checks that need it are SKIPPED and the pack still builds.
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { readSecretFile } from '@caracal/config';
import type { Pool } from '@caracal/db';
import type { Dependency } from './check.js';

const CONNECT_TIMEOUT_MS = 3000;

const message = (e: unknown) => (e as Error)?.message || String(e);

/** Every evidence database session: read-only (the pack writes nothing) and named in pg_stat_activity. */
export const READ_ONLY_SESSION = { options: '-c default_transaction_read_only=on', application_name: 'caracal-evidence-pack' } as const;

export function secret(secretsDir: string, name: string): Dependency<string> {
  const res = readSecretFile(join(secretsDir, name));
  return res.ok ? { ok: true, value: res.value } : { ok: false, reason: `secret ${res.problem}` };
}

/** The migration (owner) URL from secrets/databaseUrl, each session `default_transaction_read_only=on`. */
export async function connectDatabase(secretsDir: string): Promise<Dependency<Pool>> {
  const url = secret(secretsDir, 'databaseUrl');
  if (!url.ok) return { ok: false, reason: `Postgres not configured: ${url.reason}` };
  const pool = new pg.Pool({
    connectionString: url.value,
    ...READ_ONLY_SESSION,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    max: 4,
  });
  // An idle client can die with the server; without a listener that would crash the CLI.
  pool.on('error', () => {});
  try {
    const r = await pool.query<{ default_transaction_read_only: string }>('SHOW default_transaction_read_only');
    if (r.rows[0]?.default_transaction_read_only !== 'on') throw new Error('the server did not make the session read-only');
    return { ok: true, value: pool };
  } catch (e) {
    await pool.end().catch(() => {});
    return { ok: false, reason: `Postgres unreachable: ${message(e)}` };
  }
}

/** secrets/redisUrl, with CARACAL_REDIS_KEY_PREFIX applied to every key. */
export async function connectRedis(secretsDir: string, keyPrefix: string): Promise<Dependency<Redis>> {
  const url = secret(secretsDir, 'redisUrl');
  if (!url.ok) return { ok: false, reason: `Redis not configured: ${url.reason}` };
  const redis = new Redis(url.value, {
    keyPrefix,
    connectionName: 'caracal-evidence-pack',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: () => null,
  });
  // ioredis reports the socket's error here and rejects connect() with a generic one; keep the telling one.
  let cause: unknown;
  redis.on('error', (e) => {
    cause ??= e;
  });
  try {
    await redis.connect();
    await redis.ping();
    return { ok: true, value: redis };
  } catch (e) {
    redis.disconnect();
    return { ok: false, reason: `Redis unreachable: ${message(cause ?? e)}` };
  }
}

export async function closeDependencies(db: Dependency<Pool>, redis: Dependency<Redis>): Promise<void> {
  if (db.ok) await db.value.end().catch(() => {});
  if (redis.ok) redis.value.disconnect();
}
