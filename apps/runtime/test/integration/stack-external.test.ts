// `caracal up/down` against external Postgres and Redis (the machine's, with a fresh database and key prefix),
// and the refusals for an unreachable database and for wrong credentials.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caracal, tempHome } from '../../../../test-support/cli.js';
import { createTestDatabase, serverUrl, type TestDatabase } from '../../../../test-support/db.js';
import { freePort } from '../../../../test-support/deps.js';
import { clearPrefix, redisUrl, testRedis, uniquePrefix } from '../../../../test-support/redis.js';

const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];

async function servicePortFlags(): Promise<string[]> {
  const flags: string[] = [];
  for (const s of SERVICES) flags.push('--port', `${s}=${await freePort()}`);
  return flags;
}

describe('external Postgres and Redis', () => {
  const home = tempHome('external');
  const env = { CARACAL_HOME: join(home.dir, 'h') };
  const prefix = uniquePrefix('ext');
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('ext');
    const dbFile = join(home.dir, 'db-url');
    writeFileSync(dbFile, db.adminUrl, { mode: 0o600 });
    const r = await caracal(['init', '--yes', '--database-url-file', dbFile, '--redis-key-prefix', prefix, ...(await servicePortFlags())], {
      ...env,
      CARACAL_REDIS_URL: redisUrl(),
    });
    expect(r.exitCode).toBe(0);
  });

  afterAll(async () => {
    await caracal(['down'], env);
    const redis = testRedis();
    await clearPrefix(redis, prefix);
    redis.disconnect();
    await db.drop();
    home.remove();
  });

  it('brings the stack up with per-service roles in the given database and keys under the prefix', async () => {
    const up = await caracal(['up'], env);
    expect(up.stderr).toContain('external Postgres');
    expect(up.exitCode).toBe(0);
    const status = await caracal(['status', '--ready', '--json'], env);
    expect(JSON.parse(status.stdout).ok).toBe(true);
    // Consumer groups were created under this installation's prefix, not on the bare stream names.
    const redis = testRedis();
    try {
      expect(await redis.exists(`${prefix}caracal.audit.events`)).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('down stops the services and leaves external servers alone', async () => {
    const r = await caracal(['down', '--json'], env);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ services: 'stopped', postgres: 'external', redis: 'external' });
    const redis = testRedis();
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });
});

describe('unusable external Postgres', () => {
  async function upWith(url: string) {
    const home = tempHome('badext');
    try {
      const env = { CARACAL_HOME: join(home.dir, 'h') };
      const init = await caracal(['init', '--yes', ...(await servicePortFlags())], { ...env, CARACAL_DATABASE_URL: url, CARACAL_REDIS_URL: redisUrl() });
      expect(init.exitCode).toBe(0);
      return await caracal(['up'], env);
    } finally {
      home.remove();
    }
  }

  it('an unreachable database URL is refused, with the password hidden', async () => {
    const port = await freePort();
    const r = await upWith(`postgres://caracal:s3cretpass@127.0.0.1:${port}/caracal`);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`external Postgres postgres://caracal:***@127.0.0.1:${port}/caracal is not usable`);
    expect(r.stderr).not.toContain('s3cretpass');
  });

  it('wrong credentials are named as such', async () => {
    const base = new URL(serverUrl());
    base.username = 'caracal_no_such_role';
    base.password = 'wrongwrong';
    const r = await upWith(base.toString());
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/authentication failed \(wrong credentials\)|role "caracal_no_such_role" does not exist/);
    expect(r.stderr).not.toContain('wrongwrong');
  });
});
