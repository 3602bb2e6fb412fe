// The worker side of the supervisor contract, with real processes on a real shared socket: a process that holds
// the listening socket without accepting (as the supervisor does) runs two workers of a service built on
// runService; one is drained with SIGTERM under continuous kept-alive traffic, and no request fails. Readiness is
// announced over IPC only once the service is ready; a bad inherited socket is refused at startup.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serverUrl } from '../../../../test-support/db.js';
import { freePort } from '../../../../test-support/deps.js';
import { privateRedis, type PrivateRedis } from '../../../../test-support/private-redis.js';
import { redisUrl, uniquePrefix } from '../../../../test-support/redis.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const SERVICE = join(FIXTURES, 'drain-service.mjs');
const DRAIN_IDLE_MS = 1000;
const hex = (n = 32) => randomBytes(n).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function serviceEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    CARACAL_MODE: 'stable',
    LOG_LEVEL: 'warn',
    DATABASE_URL: serverUrl(),
    REDIS_URL: redisUrl(),
    REDIS_KEY_PREFIX: uniquePrefix('drain'),
    STREAMS_HMAC_KEY: hex(),
    AUDIT_HMAC_KEY: hex(),
    METRICS_BEARER: hex(16),
    DRAIN_IDLE_MS: String(DRAIN_IDLE_MS),
    SHUTDOWN_GRACE_MS: '5000',
    ...overrides,
  };
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  for (const until = Date.now() + ms; !(await ok()); await sleep(20)) if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
}

interface HolderEvent {
  event: 'spawned' | 'message' | 'exit';
  id: string;
  pid?: number;
  msg?: { type: string; instance?: string };
  code?: number | null;
  signal?: string | null;
  at?: number;
}

/** A listening socket held by a process that never accepts on it, and workers spawned on it. */
class Holder {
  readonly events: HolderEvent[] = [];
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (e: HolderEvent) => this.events.push(e));
  }

  static async start(): Promise<Holder> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    const child = spawn(process.execPath, [join(FIXTURES, 'socket-holder.mjs')], { stdio: ['ignore', 'inherit', 'inherit', fd, 'ipc'] });
    // The holder has its copy; this process must not accept on the socket.
    server.close();
    return new Holder(port, child);
  }

  async spawnWorker(id: string, env: Record<string, string>): Promise<number> {
    this.child.send({ cmd: 'spawn', id, script: SERVICE, env });
    await waitFor(`${id} spawned`, () => this.events.some((e) => e.event === 'spawned' && e.id === id));
    return this.events.find((e) => e.event === 'spawned' && e.id === id)!.pid!;
  }

  kill(id: string, signal: NodeJS.Signals): void {
    this.child.send({ cmd: 'kill', id, signal });
  }

  first(id: string, what: (e: HolderEvent) => boolean): HolderEvent | undefined {
    return this.events.find((e) => e.id === id && what(e));
  }

  messages(id: string, type: string): HolderEvent[] {
    return this.events.filter((e) => e.id === id && e.event === 'message' && e.msg?.type === type);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.disconnect();
    await exited;
  }
}

interface Answer {
  status: number;
  connection: string | undefined;
  pid: number;
  body: string;
  sentAt: number;
  receivedAt: number;
  /** Which client connection carried it (numbered in the order they were first used). */
  socket: number;
}

const socketIds = new WeakMap<object, number>();
let socketCount = 0;
const socketId = (socket: object) => {
  let id = socketIds.get(socket);
  if (id === undefined) socketIds.set(socket, (id = ++socketCount));
  return id;
};

function request(agent: http.Agent, port: number, method: 'GET' | 'POST', path: string, body?: string): Promise<Answer> {
  const sentAt = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      const socket = socketId(res.socket);
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, pid: Number(res.headers['x-pid']), body: text, sentAt, receivedAt: Date.now(), socket }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const holders: Holder[] = [];
afterEach(async () => {
  for (const h of holders.splice(0)) await h.stop();
});

describe('drain on SIGTERM, two workers on one inherited socket', () => {
  it('drains one worker under continuous kept-alive traffic: no connection error, no 5xx, exit 0, Connection: close while draining', async () => {
    const holder = await Holder.start();
    holders.push(holder);
    const env = serviceEnv();
    // As in a rolling restart: the old worker holds every kept-alive connection when the new one starts.
    const pidA = await holder.spawnWorker('a', { ...env, CARACAL_INSTANCE_ID: 'fixture-a' });
    await waitFor('a ready', () => holder.messages('a', 'ready').length === 1);
    expect(holder.messages('a', 'ready')[0]!.msg).toEqual({ type: 'ready', instance: 'fixture-a' });

    const answers: Answer[] = [];
    const errors: string[] = [];
    let running = true;
    // Eight clients, each with its own kept-alive connections, alternating reads and writes.
    const clients = Array.from({ length: 8 }, async (_, c) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
      for (let i = 0; running; i++) {
        try {
          if (i % 2 === 0) answers.push(await request(agent, holder.port, 'GET', '/hello'));
          else {
            const body = JSON.stringify({ client: c, i });
            const a = await request(agent, holder.port, 'POST', '/echo?ms=15', body);
            if (a.status === 200 && a.body !== JSON.stringify({ echo: JSON.parse(body) })) errors.push(`echo mismatch: ${a.body}`);
            answers.push(a);
          }
        } catch (err) {
          errors.push(`${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`);
        }
      }
      agent.destroy();
    });
    // A connection of its own to worker a, for a request that will be in flight when the drain starts.
    const slowAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await request(slowAgent, holder.port, 'GET', '/hello')).pid).toBe(pidA);

    const pidB = await holder.spawnWorker('b', { ...env, CARACAL_INSTANCE_ID: 'fixture-b' });
    await waitFor('b ready', () => holder.messages('b', 'ready').length === 1);
    await waitFor('traffic', () => answers.length > 100);
    expect(answers.every((a) => a.pid === pidA)).toBe(true);
    // Answered in full, and told to close its connection, though its headers were not written when the drain began.
    const slow = request(slowAgent, holder.port, 'POST', '/echo?ms=1500', '{"slow":true}');
    await sleep(100);

    const signalledAt = Date.now();
    holder.kill('a', 'SIGTERM');
    // A second SIGTERM joins the drain instead of killing the process.
    await sleep(50);
    holder.kill('a', 'SIGTERM');
    await waitFor('a draining', () => holder.messages('a', 'draining').length > 0);
    const drainingAt = holder.messages('a', 'draining')[0]!.at!;
    await waitFor('a exited', () => holder.first('a', (e) => e.event === 'exit') !== undefined, DRAIN_IDLE_MS + 10_000);
    const exit = holder.first('a', (e) => e.event === 'exit')!;
    const exitedAt = exit.at!;
    await sleep(500);
    running = false;
    await Promise.all(clients);
    const slowAnswer = await slow;
    slowAgent.destroy();

    expect(errors).toEqual([]);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exitedAt - signalledAt).toBeLessThan(DRAIN_IDLE_MS + 3000);
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200]));
    expect(slowAnswer).toMatchObject({ status: 200, pid: pidA, connection: 'close', body: '{"echo":{"slow":true}}' });
    // Every connection worker a served was told to close with its last answer, and only then: nothing was cut off.
    const lastOn = new Map<number, Answer>();
    for (const a of answers.filter((x) => x.pid === pidA)) lastOn.set(a.socket, a);
    expect(lastOn.size).toBeGreaterThanOrEqual(8);
    expect([...lastOn.values()].filter((a) => a.connection !== 'close')).toEqual([]);
    const closing = answers.filter((a) => a.connection === 'close');
    expect(closing.every((a) => a.pid === pidA && lastOn.get(a.socket) === a && a.receivedAt >= signalledAt)).toBe(true);
    expect(drainingAt).toBeGreaterThanOrEqual(signalledAt);
    // Worker b took everything after: the socket stayed open the whole time.
    const afterExit = answers.filter((a) => a.sentAt > exitedAt);
    expect(afterExit.length).toBeGreaterThan(20);
    expect(afterExit.every((a) => a.pid === pidB)).toBe(true);
    expect(holder.messages('a', 'ready')).toHaveLength(1);
    expect(holder.first('b', (e) => e.event === 'exit')).toBeUndefined();
  });
});

describe('readiness over IPC', () => {
  let redis: PrivateRedis;
  let worker: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'caracal-drain-'));

  beforeAll(async () => {
    redis = await privateRedis();
  });
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await redis.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says ready only once the service is ready: never while Redis is unreachable, at once when it returns', async () => {
    await redis.stop();
    const port = await freePort();
    const messages: Array<{ type: string; instance: string; at: number }> = [];
    worker = fork(SERVICE, [], { env: serviceEnv({ REDIS_URL: redis.url, PORT: String(port), CARACAL_INSTANCE_ID: 'fixture-ready' }), stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    worker.on('message', (m: { type: string; instance: string }) => messages.push({ ...m, at: Date.now() }));
    const ready = () => fetch(`http://127.0.0.1:${port}/ready`).then(async (r) => ({ status: r.status, reason: ((await r.json()) as { reason?: string }).reason }), () => undefined);
    await waitFor('listening', async () => (await ready()) !== undefined);
    await sleep(2000);
    expect(messages).toEqual([]);
    expect(await ready()).toEqual({ status: 503, reason: 'redis_unreachable' });

    await redis.start();
    await waitFor('ready message', () => messages.length > 0, 20_000);
    expect(messages.map(({ type, instance }) => ({ type, instance }))).toEqual([{ type: 'ready', instance: 'fixture-ready' }]);
    expect(await ready()).toEqual({ status: 200, reason: undefined });
    await sleep(500);
    expect(messages).toHaveLength(1);

    // The supervisor went away: draining still works and the process still exits 0.
    worker.disconnect();
    const exited = new Promise<number | null>((r) => worker!.once('exit', (code) => r(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses an inherited socket that is not one, naming CARACAL_LISTEN_FD, exit 1', async () => {
    const run = (stdio: Array<'ignore' | 'pipe' | number>, fd: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [SERVICE], { env: serviceEnv({ CARACAL_LISTEN_FD: fd }), stdio: stdio as never });
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    const notOpen = await run(['ignore', 'ignore', 'pipe'], '9');
    expect(notOpen.code).toBe(1);
    expect(notOpen.stderr).toMatch(/^fixture: CARACAL_LISTEN_FD=9 is not a listening socket this process can use \(\w+\)\n$/);
    const file = openSync(join(dir, 'plain-file'), 'w');
    try {
      const plainFile = await run(['ignore', 'ignore', 'pipe', file], '3');
      expect(plainFile.code).toBe(1);
      expect(plainFile.stderr).toMatch(/^fixture: CARACAL_LISTEN_FD=3 is not a listening socket this process can use \(\w+\)\n$/);
    } finally {
      closeSync(file);
    }
    const bad = await run(['ignore', 'ignore', 'pipe'], 'three');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('CARACAL_LISTEN_FD: must be a file descriptor number');
  });
});
