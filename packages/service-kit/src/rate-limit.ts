// Fixed-window rate limits in Redis (R-STS-4, R-API-1). A Redis failure throws: callers deny (fail closed).
import type { Redis } from 'ioredis';

export interface RateVerdict {
  allowed: boolean;
  count: number;
  retryAfterSeconds: number;
}

export async function hitRateLimit(redis: Redis, key: string, limit: number, windowSeconds: number, nowMs = Date.now()): Promise<RateVerdict> {
  const window = Math.floor(nowMs / 1000 / windowSeconds);
  const k = `${key}:${window}`;
  const res = await redis.multi().incr(k).expire(k, windowSeconds * 2).exec();
  const count = Number(res?.[0]?.[1] ?? Number.POSITIVE_INFINITY);
  if (res?.[0]?.[0]) throw res[0][0];
  const retryAfterSeconds = windowSeconds - (Math.floor(nowMs / 1000) % windowSeconds);
  return { allowed: count <= limit, count, retryAfterSeconds };
}
