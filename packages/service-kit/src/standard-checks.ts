// Readiness checks shared by the services: Postgres as the service's own role, Redis, consumer groups.
import type { Redis } from 'ioredis';
import type { Pool } from '@caracal/db';
import { ensureGroups, missingGroup, type GroupSpec, type StreamKeys } from '@caracal/streams';
import type { ReadinessCheck } from './readiness.js';

export function postgresCheck(pool: Pool): ReadinessCheck {
  return { reason: 'postgres_unreachable', check: async () => void (await pool.query('SELECT 1')) };
}

export function redisCheck(redis: Redis): ReadinessCheck {
  return {
    reason: 'redis_unreachable',
    check: async () => {
      if ((await redis.ping()) !== 'PONG') throw new Error('unexpected PING reply');
    },
  };
}

/**
 * Consumer groups must exist. A Redis that lost them (restarted without persistence, flushed) gets them back
 * here, so the service heals itself instead of staying unready.
 */
export function groupsCheck(redis: Redis, keys: StreamKeys, groups: readonly GroupSpec[]): ReadinessCheck {
  return {
    reason: 'stream_group_missing',
    check: async () => {
      if (!(await missingGroup(redis, keys, groups))) return;
      await ensureGroups(redis, keys, groups);
      const missing = await missingGroup(redis, keys, groups);
      if (missing) throw new Error(`group ${missing.group} on ${missing.stream} is missing`);
    },
  };
}

/** Warns when Redis may evict keys: streams and replay markers must never vanish under memory pressure (R-STR-4). */
export async function evictionPolicy(redis: Redis): Promise<string | undefined> {
  try {
    const res = (await redis.config('GET', 'maxmemory-policy')) as string[];
    return res[1];
  } catch {
    return undefined;
  }
}
