// Integration-test dependencies: Postgres and Redis from CARACAL_TEST_DATABASE_URL / CARACAL_TEST_REDIS_URL, else
// the machine's default ports, else private servers started the way the managed runtime starts them.
import type { TestProject } from 'vitest/node';
import { postgresAnswers, redisAnswers } from './deps.js';
import { privatePostgres } from './private-postgres.js';
import { privateRedis } from './private-redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    redisUrl: string;
  }
}

const cleanups: Array<() => Promise<void>> = [];

/** A private server, removed at teardown; its URL is what the suites get. */
async function started(server: Promise<{ url: string; remove: () => Promise<void> }>): Promise<string> {
  const s = await server;
  cleanups.push(s.remove);
  return s.url;
}

export async function setup(project: TestProject): Promise<void> {
  const pgGiven = process.env.CARACAL_TEST_DATABASE_URL;
  const redisGiven = process.env.CARACAL_TEST_REDIS_URL;
  // An explicit URL that does not answer is an error, not a reason to test against something else.
  if (pgGiven && !(await postgresAnswers(pgGiven))) throw new Error('CARACAL_TEST_DATABASE_URL does not answer');
  if (redisGiven && !(await redisAnswers(redisGiven))) throw new Error('CARACAL_TEST_REDIS_URL does not answer');
  const pgDefault = 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisDefault = 'redis://127.0.0.1:6379/0';
  const pgUrl = pgGiven ?? ((await postgresAnswers(pgDefault)) ? pgDefault : await started(privatePostgres()));
  const redisUrl = redisGiven ?? ((await redisAnswers(redisDefault)) ? redisDefault : await started(privateRedis()));
  project.provide('pgUrl', pgUrl);
  project.provide('redisUrl', redisUrl);
}

export async function teardown(): Promise<void> {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
}
