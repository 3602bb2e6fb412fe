// Connects a service to its dependencies: a pool as its own database role, and Redis configured to fail fast
// (no offline queue), so a dependency outage denies instead of hanging (fail closed). Every query and command has
// a deadline (§15, bounded waits): a paused server is an outage after PG_QUERY_TIMEOUT_MS / REDIS_COMMAND_TIMEOUT_MS.
import { Redis } from 'ioredis';
import { createPool, type Pool } from '@caracal/db';
import type { Logger } from '@caracal/logging';
import { StreamKeys } from '@caracal/streams';
import { instanceId } from './instance-id.js';
import type { BaseConfig } from './service-config.js';

export interface ServiceDeps {
  /** This process's instance id (CARACAL_INSTANCE_ID, else generated). */
  instance: string;
  pool: Pool;
  redis: Redis;
  /** A second connection for blocking stream reads, so they never delay commands on `redis`. */
  redisBlocking: Redis;
  keys: StreamKeys;
}

/**
 * `commandTimeoutMs` is the deadline of every command, so it is only for connections that serve requests: a
 * blocking stream read on the same connection would time out. Stream readers get their own connection without it.
 */
export function createRedis(url: string, name: string, logger: Logger, commandTimeoutMs?: number): Redis {
  const redis = new Redis(url, {
    // A request-serving connection sends the commands of one event-loop turn (many requests' rate limits, replay
    // claims, audit XADDs) in one write; each command still gets its own reply, error and deadline.
    ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs, enableAutoPipelining: true }),
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    // Reconnect forever with a capped backoff: the service recovers by itself when Redis returns.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
  });
  let down = false;
  redis.on('error', (err) => {
    if (!down) logger.warn({ err: { message: err.message } }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info('redis connection restored');
    down = false;
  });
  return redis;
}

export function connectDeps(config: BaseConfig, service: string, logger: Logger): ServiceDeps {
  const pool = createPool({
    connectionString: config.DATABASE_URL,
    applicationName: `caracal-${service}`,
    connectionTimeoutMillis: config.PG_QUERY_TIMEOUT_MS,
    statementTimeoutMillis: config.PG_QUERY_TIMEOUT_MS,
    queryTimeoutMillis: config.PG_QUERY_TIMEOUT_MS,
    onError: (err) => logger.warn({ err: { message: err.message } }, 'idle postgres client failed'),
  });
  const redis = createRedis(config.REDIS_URL, `caracal-${service}`, logger, config.REDIS_COMMAND_TIMEOUT_MS);
  const redisBlocking = createRedis(config.REDIS_URL, `caracal-${service}-stream`, logger);
  return { instance: instanceId(service, config.CARACAL_INSTANCE_ID), pool, redis, redisBlocking, keys: new StreamKeys(config.REDIS_KEY_PREFIX) };
}

/** Starts connecting without waiting: a service may start while Redis is down and become ready later. */
export function startConnecting(deps: ServiceDeps): void {
  for (const r of [deps.redis, deps.redisBlocking]) r.connect().catch(() => undefined);
}

export async function closeDeps(deps: ServiceDeps): Promise<void> {
  await Promise.allSettled([deps.pool.end(), deps.redis.quit(), deps.redisBlocking.quit()]);
  deps.redis.disconnect();
  deps.redisBlocking.disconnect();
}
