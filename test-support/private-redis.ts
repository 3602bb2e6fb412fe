// A private redis-server a test may stop and start again, started the way the managed runtime starts one.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRedisServer } from '../apps/runtime/dist/managed/binaries.js';
import { managedRedisUrl, redisPid, startRedis, stopRedis, type ManagedRedis } from '../apps/runtime/dist/managed/redis.js';
import { REPO } from './cli.js';
import { freePort } from './deps.js';

/** A private server a test may stop, start, pause and remove (shared by the Redis and Postgres helpers). */
export interface PrivateServer {
  url: string;
  start: () => Promise<void>;
  stop: () => Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its sockets and connections open but answers nothing. */
  pause: () => void;
  resume: () => void;
  remove: () => Promise<void>;
}

export type PrivateRedis = PrivateServer;

export async function privateRedis(): Promise<PrivateRedis> {
  const server = findRedisServer(process.env);
  if (!server) throw new Error('redis-server was not found: apt-get install -y redis-server');
  const dir = mkdtempSync(join(tmpdir(), 'caracal-redis-'));
  const r: ManagedRedis = { server, dir, logFile: join(dir, 'redis.log'), port: await freePort(), password: randomBytes(16).toString('hex'), baseConfig: join(REPO, 'infra', 'redis', 'redis.conf') };
  await startRedis(r);
  return {
    url: managedRedisUrl(r),
    start: async () => void (await startRedis(r)),
    stop: async () => void (await stopRedis(r)),
    pause: () => process.kill(redisPid(r)!, 'SIGSTOP'),
    resume: () => process.kill(redisPid(r)!, 'SIGCONT'),
    remove: async () => {
      await stopRedis(r);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
