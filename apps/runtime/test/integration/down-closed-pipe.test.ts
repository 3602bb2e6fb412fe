// `caracal down 2>&1 | head -1`: the reader goes away after the first line, yet down must finish stopping the
// managed Postgres and Redis it owns (issue 8 item 13). Real CLI process, real pipes, real managed servers; the
// services are not started (nothing in this path depends on them), which keeps the test cheap.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, caracal, tempHome } from '../../../../test-support/cli.js';
import { freePort } from '../../../../test-support/deps.js';
import { portFree } from '../../src/managed/ports.js';
import { clusterRunning, initCluster, startCluster } from '../../src/managed/postgres.js';
import { redisPid, startRedis } from '../../src/managed/redis.js';
import { loadContext, managedPostgres, managedRedis } from '../../src/stack/context.js';

/** Runs `caracal down`, destroying the read ends of stdout and stderr as soon as the first line arrives. */
function downWithReaderGone(env: Record<string, string>): Promise<{ code: number | null; firstLine: string }> {
  const child = spawn(process.execPath, [CLI, 'down'], { env: { PATH: process.env.PATH, NO_COLOR: '1', CI: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let firstLine = '';
  const closeBoth = (chunk: Buffer) => {
    if (firstLine) return;
    firstLine = chunk.toString().split('\n')[0] ?? '';
    child.stdout.destroy();
    child.stderr.destroy();
  };
  child.stdout.once('data', closeBoth);
  child.stderr.once('data', closeBoth);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, firstLine })));
}

describe('caracal down with its output pipe closed early', () => {
  const home = tempHome('down-pipe');
  const env = { CARACAL_HOME: join(home.dir, 'h') };
  const ports = { pg: 0, redis: 0 };

  beforeAll(async () => {
    ports.pg = await freePort();
    ports.redis = await freePort();
    const init = await caracal(['init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis)], env);
    expect(init.exitCode, init.stderr).toBe(0);
  });

  afterAll(async () => {
    // As root the managed Postgres data lives outside the home (/var/lib/caracal/<id>): --volumes removes it too.
    const pgBase = loadContext({ ...process.env, ...env }).home.postgresBase;
    const down = await caracal(['down', '--volumes', '--yes'], env);
    home.remove();
    expect(down.exitCode, down.stderr).toBe(0);
    expect(existsSync(pgBase)).toBe(false);
  });

  it('still stops managed Redis and Postgres and exits 0', async () => {
    const ctx = loadContext({ ...process.env, ...env });
    const pg = managedPostgres(ctx);
    const redis = managedRedis(ctx);
    await initCluster(pg);
    await startCluster(pg);
    await startRedis(redis);
    expect(await clusterRunning(pg)).toBe(true);

    const r = await downWithReaderGone(env);

    expect(r.firstLine).toContain('stop services');
    expect(r.code).toBe(0);
    expect(await clusterRunning(pg)).toBe(false);
    expect(redisPid(redis)).toBeUndefined();
    expect(await portFree(ports.pg)).toBe(true);
    expect(await portFree(ports.redis)).toBe(true);
  });
});
