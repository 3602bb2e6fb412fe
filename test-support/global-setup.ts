// Integration-test dependencies: Postgres and Redis from CARACAL_TEST_DATABASE_URL / CARACAL_TEST_REDIS_URL, else
// the machine's default ports, else private servers started the way the managed runtime starts them.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findPostgres, findRedisServer } from '../apps/runtime/dist/managed/binaries.js';
import { initCluster, managedAdminUrl, startCluster, stopCluster, type ManagedPostgres } from '../apps/runtime/dist/managed/postgres.js';
import { managedRedisUrl, startRedis, stopRedis, type ManagedRedis } from '../apps/runtime/dist/managed/redis.js';
import { freePort, postgresAnswers, redisAnswers } from './deps.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    redisUrl: string;
  }
}

const cleanups: Array<() => Promise<void>> = [];

async function privatePostgres(): Promise<string> {
  const bin = findPostgres(process.env);
  if (!bin) throw new Error('no Postgres answers and no PostgreSQL binaries were found: apt-get install -y postgresql');
  const base = mkdtempSync(join(tmpdir(), 'caracal-test-pg-'));
  const pg: ManagedPostgres = {
    bin,
    dataDir: join(base, 'pgdata'),
    logFile: join(base, 'postgres.log'),
    port: await freePort(),
    superuser: 'caracal_test',
    password: randomBytes(16).toString('hex'),
    database: 'postgres',
  };
  await initCluster(pg);
  await startCluster(pg);
  cleanups.push(async () => {
    await stopCluster(pg);
    rmSync(base, { recursive: true, force: true });
  });
  return managedAdminUrl(pg, 'postgres');
}

async function privateRedis(): Promise<string> {
  const server = findRedisServer(process.env);
  if (!server) throw new Error('no Redis answers and redis-server was not found: apt-get install -y redis-server');
  const dir = mkdtempSync(join(tmpdir(), 'caracal-test-redis-'));
  const r: ManagedRedis = {
    server,
    dir,
    logFile: join(dir, 'redis.log'),
    port: await freePort(),
    password: randomBytes(16).toString('hex'),
    baseConfig: join(import.meta.dirname, '..', 'infra', 'redis', 'redis.conf'),
  };
  await startRedis(r);
  cleanups.push(async () => {
    await stopRedis(r);
    rmSync(dir, { recursive: true, force: true });
  });
  return managedRedisUrl(r);
}

export async function setup(project: TestProject): Promise<void> {
  const pgGiven = process.env.CARACAL_TEST_DATABASE_URL;
  const redisGiven = process.env.CARACAL_TEST_REDIS_URL;
  // An explicit URL that does not answer is an error, not a reason to test against something else.
  if (pgGiven && !(await postgresAnswers(pgGiven))) throw new Error('CARACAL_TEST_DATABASE_URL does not answer');
  if (redisGiven && !(await redisAnswers(redisGiven))) throw new Error('CARACAL_TEST_REDIS_URL does not answer');
  const pgDefault = 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisDefault = 'redis://127.0.0.1:6379/0';
  const pgUrl = pgGiven ?? ((await postgresAnswers(pgDefault)) ? pgDefault : await privatePostgres());
  const redisUrl = redisGiven ?? ((await redisAnswers(redisDefault)) ? redisDefault : await privateRedis());
  project.provide('pgUrl', pgUrl);
  project.provide('redisUrl', redisUrl);
}

export async function teardown(): Promise<void> {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
}
