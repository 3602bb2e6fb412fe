// `caracal up/status/down` with managed Postgres and Redis: readiness, supervision, lock, preflight refusals.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, caracal, tempHome } from '../../../../test-support/cli.js';
import { freePort } from '../../../../test-support/deps.js';
import { portFree } from '../../src/managed/ports.js';
// A stopped process whose parent (here PID 1, once its supervisor died) has not reaped it yet counts as gone.
import { alive } from './supervisor-support.js';

const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];

describe('managed local runtime', () => {
  const home = tempHome('managed');
  const env = { CARACAL_HOME: join(home.dir, 'h') };
  const ports: Record<string, number> = {};
  const state = () => JSON.parse(readFileSync(join(env.CARACAL_HOME, 'data', 'supervisor.json'), 'utf8'));
  let lastPids: number[] = [];

  beforeAll(async () => {
    for (const name of [...SERVICES, 'pg', 'redis']) ports[name] = await freePort();
    const r = await caracal(
      ['init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis), ...SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`])],
      env,
    );
    expect(r.exitCode).toBe(0);
  });

  afterAll(async () => {
    await caracal(['purge', 'all', '--yes'], env);
    home.remove();
  });

  it('names the exact install command when Postgres or Redis binaries are missing', async () => {
    const r = await caracal(['up', '--no-install'], { ...env, CARACAL_PG_BINDIR: '/nonexistent/bin', CARACAL_REDIS_SERVER: '/nonexistent/redis-server' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('PostgreSQL server (initdb, pg_ctl) and redis-server not found');
    expect(r.stderr).toMatch(/install with: (sudo )?apt-get install -y postgresql redis-server/);
    const doctor = await caracal(['doctor', '--json'], { ...env, CARACAL_PG_BINDIR: '/nonexistent/bin' });
    expect(doctor.exitCode).toBe(1);
    expect(JSON.parse(doctor.stdout).checks).toContainEqual(expect.objectContaining({ check: 'postgres binaries', level: 'fail' }));
  });

  it('names a service port that is already in use, before starting anything', async () => {
    const blocker = net.createServer().listen(ports.gateway, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const r = await caracal(['up'], env);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`port ${ports.gateway} (gateway) already in use by PID ${process.pid} (`);
      expect(existsSync(join(env.CARACAL_HOME, 'data', 'supervisor.json'))).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('refuses a world-writable secret and names the file', async () => {
    const p = join(env.CARACAL_HOME, 'secrets', 'auditHmacKey');
    chmodSync(p, 0o666);
    try {
      const r = await caracal(['up'], env);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`${p} is world-writable`);
    } finally {
      chmodSync(p, 0o444);
    }
  });

  it('brings all five services to ready; a concurrent up is refused with the lock holder PID', async () => {
    const first = spawn(process.execPath, [CLI, 'up'], { env: { PATH: process.env.PATH, NO_COLOR: '1', CI: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    first.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number>((resolve) => first.once('exit', (code) => resolve(code ?? 1)));
    const lock = join(env.CARACAL_HOME, '.lock');
    for (let i = 0; i < 200 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 10));
    const second = await caracal(['up'], env);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain(`holds the lock: PID ${first.pid}`);

    expect(await exited).toBe(0);
    for (const s of SERVICES) expect(stdout).toContain(`http://127.0.0.1:${ports[s]}`);
    expect(existsSync(lock)).toBe(false);
    const runtime = JSON.parse(readFileSync(join(env.CARACAL_HOME, 'runtime.json'), 'utf8'));
    expect(runtime.version).toMatch(/^\d+\.\d+\.\d+/);

    const status = await caracal(['status', '--ready', '--json'], env);
    expect(status.exitCode).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.ok).toBe(true);
    expect(report.services.map((s: { service: string; ok: boolean }) => [s.service, s.ok])).toEqual(SERVICES.map((s) => [s, true]));
  });

  it('restarts a killed service at once; status --ready --wait 30 comes back green', async () => {
    const before = state();
    const pid = before.services.sts.workers[0].pid as number;
    process.kill(pid, 'SIGKILL');
    // The first restart is immediate (no backoff): a new process within 2 s, not after ~11 s.
    let respawned = false;
    for (let i = 0; i < 40 && !respawned; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const pidNow = state().services.sts.workers[0]?.pid as number | null;
      respawned = pidNow !== null && pidNow !== pid;
    }
    expect(respawned).toBe(true);
    const r = await caracal(['status', '--ready', '--wait', '30', '--json'], env);
    expect(r.exitCode).toBe(0);
    const after = state();
    expect(after.services.sts.workers[0].pid).not.toBe(pid);
    expect(after.services.sts.restarts).toBeGreaterThanOrEqual(1);
    expect(alive(after.services.sts.workers[0].pid)).toBe(true);
  });

  it('a second up while the stack runs is idempotent', async () => {
    const r = await caracal(['up'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('services already supervised');
    expect((await caracal(['migrate', 'status', '--json'], env)).stdout).toContain('"state": "applied"');
  });

  it('when the supervisor itself dies, up stops its orphaned services and supervises afresh', async () => {
    const before = state();
    process.kill(before.pid, 'SIGKILL');
    const orphans = SERVICES.map((s) => before.services[s].workers[0].pid as number);
    expect(orphans.every(alive)).toBe(true);
    // A worker the dead supervisor never recorded is found by the port it still listens on.
    const file = join(env.CARACAL_HOME, 'data', 'supervisor.json');
    const recorded = JSON.parse(readFileSync(file, 'utf8'));
    recorded.services.audit.workers = [];
    writeFileSync(file, JSON.stringify(recorded));
    const r = await caracal(['up'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('stopped 5 service process(es) left by a supervisor that died');
    for (const pid of orphans) expect(alive(pid)).toBe(false);
    expect(state().pid).not.toBe(before.pid);
    expect((await caracal(['status', '--ready'], env)).exitCode).toBe(0);
  });

  it('refuses a corrupt caracal.env and names the file and line', async () => {
    const p = join(env.CARACAL_HOME, 'caracal.env');
    const good = readFileSync(p, 'utf8');
    writeFileSync(p, `${good}this line is junk\nCARACAL_MODE=sometimes\n`);
    try {
      for (const cmd of [['status'], ['up'], ['down']]) {
        const r = await caracal(cmd, env);
        expect(r.exitCode, cmd.join(' ')).toBe(1);
        expect(r.stderr).toContain(`${p}:`);
        expect(r.stderr).toMatch(/expected KEY=value/);
        expect(r.stderr).toMatch(/CARACAL_MODE/);
      }
    } finally {
      writeFileSync(p, good);
    }
  });

  it('down stops every process and frees every port', async () => {
    const st = state();
    lastPids = [st.pid, ...SERVICES.map((s) => st.services[s].workers[0].pid)];
    const r = await caracal(['down'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('services: stopped; postgres: stopped; redis: stopped');
    for (const pid of lastPids) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const [name, port] of Object.entries(ports)) expect(await portFree(port), `${name} port ${port}`).toBe(true);
  });

  it('down when nothing runs exits 0 and says so', async () => {
    const r = await caracal(['down'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('nothing was running');
    const status = await caracal(['status', '--json'], env);
    expect(status.exitCode).toBe(1);
    expect(JSON.parse(status.stdout).services.every((s: { reason: string }) => s.reason === 'not_listening')).toBe(true);
  });

  it('an up that cannot start Redis stops the services it started held: nothing of them is left', async () => {
    const log = (name: string) => join(env.CARACAL_HOME, 'logs', `${name}.log`);
    const sizes = Object.fromEntries(['supervisor', ...SERVICES].map((n) => [n, existsSync(log(n)) ? readFileSync(log(n)).length : 0]));
    const added = (name: string) => (existsSync(log(name)) ? readFileSync(log(name)).subarray(sizes[name]).toString('utf8') : '');
    const blocker = net.createServer().listen(ports.redis, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const r = await caracal(['up'], env);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`port ${ports.redis} (managed Redis) is already in use`);
      // The supervisor was started (held) before Postgres and Redis, and stopped again with its workers.
      expect(added('supervisor')).toMatch(/workers wait for release[^]*"msg":"supervisor stopped"/);
      expect(existsSync(join(env.CARACAL_HOME, 'data', 'supervisor.json'))).toBe(false);
      for (const s of SERVICES) expect(await portFree(ports[s]!), `${s} port`).toBe(true);
      // The workers never read their configuration, connected or listened: none logged a line.
      for (const s of SERVICES) expect(added(s), s).toBe('');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('a warm up after down reuses the cluster and data', async () => {
    const auditLog = join(env.CARACAL_HOME, 'logs', 'audit.log');
    const before = readFileSync(auditLog).length;
    const r = await caracal(['up'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).not.toContain('created cluster');
    // Starting warns about nothing that is not wrong (the stream trim once ran before Redis was connected).
    expect(readFileSync(auditLog).subarray(before).toString('utf8')).not.toContain('failed; retrying on schedule');
    expect((await caracal(['down'], env)).exitCode).toBe(0);
  });
});
