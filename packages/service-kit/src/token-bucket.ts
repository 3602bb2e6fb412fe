// A token bucket in Redis (R-CTL-1): one hash per key holding the tokens left and the time they were counted,
// refilled and spent in one Lua script so concurrent callers never both take the last token. A Redis failure throws:
// callers deny (fail closed).
import type { Redis } from 'ioredis';

export interface BucketSpec {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** The most tokens the bucket holds (the burst a quiet caller may spend at once). */
  burst: number;
}

export interface BucketVerdict {
  allowed: boolean;
  /** Whole seconds until one token is back (0 when allowed). */
  retryAfterSeconds: number;
}

// KEYS[1] bucket; ARGV: rate per ms, burst, now in ms. Returns {allowed 0|1, ms until one token}.
const TAKE = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then tokens = math.min(burst, tokens + (now - at) * rate) end
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return {allowed, wait}
`;

export async function takeToken(redis: Redis, key: string, spec: BucketSpec, nowMs = Date.now()): Promise<BucketVerdict> {
  const [allowed, waitMs] = (await redis.eval(TAKE, 1, key, String(spec.ratePerSecond / 1000), String(spec.burst), String(nowMs))) as [number, number];
  return { allowed: allowed === 1, retryAfterSeconds: allowed === 1 ? 0 : Math.max(1, Math.ceil(waitMs / 1000)) };
}
