// The supervisor driven through the real CLI and its control socket, with stand-in services that keep the worker
// contract (listen on CARACAL_LISTEN_FD, IPC ready/draining, drain on SIGTERM): several workers on one held
// socket, per-worker restarts, a roll under keep-alive traffic, failed rolls, a handover that closes no socket,
// `down` after it, and `up` starting the newer version runtime.json names. External Postgres and Redis.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caracal } from '../../../../test-support/cli.js';
import { portFree } from '../../src/managed/ports.js';
import { handoverSupervisor, rollService, supervisorRequest, supervisorSocket, supervisorStatus, type SupervisorState } from '../../src/stack/supervisor-control.js';
import { alive, externalStack, installRoot, keepAliveTraffic, oneConnectionPerWorker, pidsRunning, SERVICES, socketInodes, waitUntil, type Service } from './supervisor-support.js';

const V = '0.1.0';

describe('supervisor with stand-in services', () => {
  const stack = externalStack('sup');
  const { env, home, ports, url } = stack;
  const roots: Record<string, string> = {};
  const state = () => JSON.parse(readFileSync(home.supervisorState, 'utf8')) as SupervisorState;
  const pids = (s: SupervisorState, service: string) => s.services[service]!.workers.map((w) => w.pid!);
  /** Fresh connections until every PID in `want` answered (or `tries` requests); returns the PIDs seen. */
  const answering = async (service: Service, tries = 200, want: number[] = []) => {
    const seen = new Set<number>();
    for (let i = 0; i < tries && !want.every((p) => seen.has(p)); i++) {
      const res = await fetch(`${url(service)}/who`, { headers: { connection: 'close' } });
      seen.add(((await res.json()) as { pid: number }).pid);
    }
    return seen;
  };

  beforeAll(async () => {
    const root = (name: string, version: string, services: Parameters<typeof installRoot>[2] = {}) => installRoot(join(stack.dir, name), version, services, 'worker');
    roots.a = root('root-a', V);
    roots.b = root('root-b', V);
    roots.neverReady = root('root-never-ready', V, { sts: 'never-ready' });
    roots.exiting = root('root-exiting', V, { sts: 'exiting' });
    roots.newer = root('root-newer', '0.2.0');
    env.CARACAL_INSTALL_ROOT = roots.a;
    await stack.init();
  });

  afterAll(() => stack.remove());

  it('refuses a bad CARACAL_<SERVICE>_WORKERS in the environment before starting anything', async () => {
    const r = await caracal(['up'], { ...env, CARACAL_GATEWAY_WORKERS: '65' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('CARACAL_GATEWAY_WORKERS=65 (environment): must be an integer from 1 to 64, or auto');
    expect(() => statSync(home.supervisorState)).toThrow();
    for (const s of SERVICES) expect(await portFree(ports[s]!)).toBe(true);
  });

  it('runs two workers of a service on its one port; status lists both; each holds only its own socket', async () => {
    const up = await caracal(['up'], { ...env, CARACAL_GATEWAY_WORKERS: '2', CARACAL_STS_WORKERS: '2' });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toContain('wait for every worker');
    const s = state();
    const status = await caracal(['status', '--json'], env);
    expect(status.exitCode).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.supervisor).toMatchObject({ pid: s.pid, version: V, root: roots.a });
    const gw = report.services.find((x: { service: string }) => x.service === 'gateway');
    expect(gw).toMatchObject({ ok: true, version: V, workers: { ready: 2, total: 2, desired: 2 } });
    expect(gw.pids.sort()).toEqual(pids(s, 'gateway').sort());
    expect(report.services.find((x: { service: string }) => x.service === 'api').workers).toEqual({ ready: 1, total: 1, desired: 1 });
    const table = await caracal(['status'], env);
    expect(table.stdout).toMatch(new RegExp(`gateway\\s+ok\\s+${V.replace(/\./g, '\\.')}\\s+2/2\\s+${pids(s, 'gateway').join(',')}`));

    // Both workers accept on the same port; the process holding a connection's server side is the one answering.
    const seen = await answering('gateway', 200, pids(s, 'gateway'));
    expect([...seen].sort()).toEqual(pids(s, 'gateway').sort());
    const pinned = await oneConnectionPerWorker(url('gateway'), pids(s, 'gateway'));
    for (const [pid, c] of pinned) {
      expect(JSON.parse((await c.call({ path: '/pinned' })).body).pid).toBe(pid);
      c.close();
    }
    // The supervisor holds all five sockets on fds 3..7; a worker holds only its own service's one.
    const held = socketInodes(s.pid);
    const inode = Object.fromEntries(SERVICES.map((svc, i) => [svc, held[String(3 + i)]]));
    expect(new Set(Object.values(inode)).size).toBe(5);
    for (const worker of pids(s, 'gateway')) {
      const theirs = Object.values(socketInodes(worker));
      expect(theirs).toContain(inode.gateway);
      for (const other of SERVICES.filter((x) => x !== 'gateway')) expect(theirs).not.toContain(inode[other]);
    }
    for (const w of s.services.gateway!.workers) expect(readFileSync(`/proc/${w.pid}/environ`, 'utf8')).toContain(`CARACAL_INSTANCE_ID=${w.instance}`);
    expect(statSync(supervisorSocket(home)).mode & 0o777).toBe(0o600);
    expect(statSync(home.dataDir).mode & 0o777).toBe(0o700);
  });

  it('restarts a killed worker while the other one keeps serving', async () => {
    const [a, b] = pids(state(), 'gateway');
    process.kill(a!, 'SIGKILL');
    await waitUntil('a replacement worker', () => state().services.gateway!.workers.every((w) => w.pid && w.pid !== a && w.status === 'ready'));
    const after = state().services.gateway!;
    expect(after.workers.map((w) => w.pid)).toContain(b);
    expect(after.restarts).toBe(1);
    expect(after.lastExit).toMatchObject({ signal: 'SIGKILL' });
    expect(after.workers.find((w) => w.pid !== b)!.restarts).toBe(1);
  });

  it('rolls a service under continuous keep-alive traffic: every request answered 200, no connection error', async () => {
    const before = pids(state(), 'gateway');
    const traffic = keepAliveTraffic(url('gateway'), () => ({ path: '/call' }));
    await new Promise((r) => setTimeout(r, 500));
    const reply = await rollService(home, { service: 'gateway', root: roots.a!, version: V, readyTimeoutMs: 20_000, restart: true });
    await new Promise((r) => setTimeout(r, 500));
    const report = await traffic.stop();
    expect(reply).toMatchObject({ ok: true, service: 'gateway', from: { version: V }, to: { version: V } });
    expect(report.errors).toEqual([]);
    expect(report.statuses).toEqual({ 200: report.sent });
    const after = pids(state(), 'gateway');
    expect(after.filter((p) => before.includes(p))).toEqual([]);
    for (const p of before) expect(alive(p)).toBe(false);
    // The traffic was served by old workers and then by new ones. Which worker accepts a new connection on the shared
    // socket is the kernel's choice, so not every worker is bound to get one of the few kept-alive connections.
    const served = new Set(report.bodies.map((b) => (JSON.parse(b) as { pid: number }).pid));
    expect(before.some((p) => served.has(p)), 'an old worker served').toBe(true);
    expect(after.some((p) => served.has(p)), 'a new worker served').toBe(true);
    expect([...served].every((p) => before.includes(p) || after.includes(p))).toBe(true);
  });

  it('a roll is carried through when the client that asked for it goes away at once', async () => {
    const before = pids(state(), 'coordinator');
    const client = net.createConnection(supervisorSocket(home));
    await new Promise((r) => client.once('connect', r));
    await new Promise<void>((r) => client.end(`${JSON.stringify({ type: 'roll', service: 'coordinator', root: roots.b, version: V, readyTimeoutMs: 20_000 })}\n`, r));
    client.destroy();
    await waitUntil('the roll to finish', () => {
      const c = state().services.coordinator!;
      return c.root === roots.b && c.workers.length === 1 && c.workers[0]!.status === 'ready' && !before.includes(c.workers[0]!.pid!);
    });
    for (const p of before) await waitUntil(`old coordinator ${p} to exit`, () => !alive(p));
  });

  it('a roll to a root whose service never becomes ready: new workers killed, old ones keep serving, ok:false', async () => {
    const before = pids(state(), 'sts');
    const reply = await rollService(home, { service: 'sts', root: roots.neverReady!, version: V, readyTimeoutMs: 3000 });
    expect(reply).toMatchObject({ ok: false, service: 'sts', error: 'not_ready' });
    expect((reply as { detail: string }).detail).toContain('2 of 2 new sts worker(s) (0.1.0) were not ready within 3000 ms');
    expect(pidsRunning(join(roots.neverReady!, 'services'))).toEqual([]);
    const s = state();
    expect(s.services.sts).toMatchObject({ root: roots.a, version: V });
    expect(pids(s, 'sts')).toEqual(before);
    expect([...(await answering('sts', 30))].every((p) => before.includes(p))).toBe(true);
  });

  it('a roll whose new worker exits at startup fails with exited and its exit code', async () => {
    const before = pids(state(), 'sts');
    const reply = await rollService(home, { service: 'sts', root: roots.exiting!, version: V, readyTimeoutMs: 10_000 });
    expect(reply).toMatchObject({ ok: false, service: 'sts', error: 'exited' });
    expect((reply as { detail: string }).detail).toContain('code 3');
    expect(pids(state(), 'sts')).toEqual(before);
    expect(readFileSync(join(home.logsDir, 'sts.log'), 'utf8')).toContain('startup failed on purpose');
  });

  it('refuses a malformed request and a root that does not hold the named version', async () => {
    expect(await supervisorRequest(home, { type: 'roll', service: 'sts' } as never, 5000)).toMatchObject({ ok: false, error: 'bad_request' });
    const wrong = await rollService(home, { service: 'sts', root: roots.newer!, version: V, readyTimeoutMs: 5000 });
    expect(wrong).toMatchObject({ ok: false, error: 'bad_request', detail: `${roots.newer} holds version 0.2.0, not ${V}` });
    const missing = await handoverSupervisor(home, { root: join(stack.dir, 'nowhere'), version: V });
    expect(missing).toMatchObject({ ok: false, error: 'bad_request' });
    expect(await rollService(home, { service: 'api', root: roots.a!, version: V, readyTimeoutMs: 5000 })).toEqual({ ok: true, service: 'api', unchanged: true, version: V });
  });

  it('hands over to another root: new supervisor PID, same workers, same sockets, a kept-alive connection survives', async () => {
    const before = state();
    const workers = SERVICES.flatMap((s) => pids(before, s));
    const held = socketInodes(before.pid);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ pid: number; reused: boolean; port: number }>((resolve, reject) => {
        const req = http.get(`${url('api')}/kept`, { agent }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ pid: JSON.parse(body).pid, reused: req.reusedSocket, port: req.socket!.localPort! }));
        });
        req.on('error', reject);
      });
    const first = await get();
    const traffic = keepAliveTraffic(url('gateway'), () => ({ path: '/during-handover' }));
    const reply = await handoverSupervisor(home, { root: roots.b!, version: V });
    await new Promise((r) => setTimeout(r, 300));
    const report = await traffic.stop();
    expect(reply).toMatchObject({ ok: true });
    const pid = (reply as { pid: number }).pid;
    expect(pid).not.toBe(before.pid);
    await waitUntil('the old supervisor to exit', () => !alive(before.pid));
    const after = await supervisorStatus(home);
    expect(after).toMatchObject({ pid, root: roots.b, version: V });
    expect(state().pid).toBe(pid);
    expect(SERVICES.flatMap((s) => pids(after, s))).toEqual(workers);
    expect(after.services.gateway!.workers.every((w) => w.status === 'ready')).toBe(true);
    for (const w of workers) expect(alive(w)).toBe(true);
    // The same listening sockets, now held by the new supervisor on the same fds.
    const heldNow = socketInodes(pid);
    for (const fd of ['3', '4', '5', '6', '7']) expect(heldNow[fd]).toBe(held[fd]);
    const second = await get();
    expect(second).toMatchObject({ pid: first.pid, reused: true, port: first.port });
    agent.destroy();
    expect(report.errors).toEqual([]);
    expect(report.statuses).toEqual({ 200: report.sent });
    expect(report.sent).toBeGreaterThan(0);
  });

  it('after the handover a roll works and a dead adopted worker is restarted', async () => {
    const before = pids(state(), 'gateway');
    const reply = await rollService(home, { service: 'gateway', root: roots.b!, version: V, readyTimeoutMs: 20_000 });
    expect(reply).toMatchObject({ ok: true, service: 'gateway' });
    const s = state();
    expect(s.services.gateway).toMatchObject({ root: roots.b });
    for (const p of before) expect(alive(p)).toBe(false);
    const fresh = pids(s, 'gateway');
    expect([...(await answering('gateway', 200, fresh))].sort()).toEqual(fresh.sort());
    // api's worker was adopted (no IPC channel): its death is seen by PID and it is restarted from its root.
    const [adopted] = pids(s, 'api');
    process.kill(adopted!, 'SIGKILL');
    await waitUntil('api restarted', () => {
      const w = state().services.api!.workers[0];
      return Boolean(w?.pid && w.pid !== adopted && w.status === 'ready');
    });
    expect(readFileSync(`/proc/${pids(state(), 'api')[0]}/cmdline`, 'utf8')).toContain(join(roots.a!, 'services', 'api'));
  });

  it('down after the handover drains and stops everything, frees every port and removes the socket', async () => {
    const s = state();
    const all = [s.pid, ...SERVICES.flatMap((svc) => pids(s, svc))];
    const r = await caracal(['down'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('services: stopped');
    for (const p of all) expect(alive(p), `pid ${p}`).toBe(false);
    for (const svc of SERVICES) expect(await portFree(ports[svc]!), svc).toBe(true);
    expect(() => statSync(supervisorSocket(home))).toThrow();
    expect(() => statSync(home.supervisorState)).toThrow();
    expect(pidsRunning(stack.dir)).toEqual([]);
  });

  it('up starts the newer version runtime.json names, and says so', async () => {
    writeFileSync(home.runtimeJson, JSON.stringify({ version: '0.2.0', updatedAt: new Date().toISOString(), root: roots.newer }));
    const up = await caracal(['up'], env);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toContain(`starting 0.2.0 from ${roots.newer} (runtime.json; newer than this CLI's ${V})`);
    const s = state();
    expect(s).toMatchObject({ version: '0.2.0', root: roots.newer });
    expect(s.services.sts).toMatchObject({ version: '0.2.0', root: roots.newer });
    expect(JSON.parse(readFileSync(home.runtimeJson, 'utf8'))).toMatchObject({ version: '0.2.0', root: roots.newer });
    expect((await caracal(['down'], env)).exitCode).toBe(0);
  });
});
