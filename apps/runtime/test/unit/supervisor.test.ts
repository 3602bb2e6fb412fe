// The supervisor runs `desired` workers per service, restarts a crashed worker at once and then with exponential
// backoff while it keeps crashing, resets the backoff after a healthy run, follows IPC readiness, and drains
// everything with SIGTERM then SIGKILL.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@caracal/logging';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { FakeWorker, harness, spec, type Harness } from './fake-workers.js';

describe('Supervisor', () => {
  let now = 0;
  let h: Harness;
  const worker = (s: Supervisor, service = 'api', i = 0) => s.snapshot().services[service]!.workers[i]!;

  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
    h = harness(() => now);
  });
  afterEach(() => vi.useRealTimers());

  it('starts the desired workers of every service, records their pids and instance ids, and follows IPC ready', () => {
    h.sup.start([{ spec: spec('api'), desired: 1 }, { spec: spec('gateway'), desired: 3 }]);
    expect(h.workers).toHaveLength(4);
    const gw = h.sup.snapshot().services.gateway!;
    expect(gw).toMatchObject({ version: '1.0.0', root: '/r1', desired: 3, restarts: 0 });
    expect(gw.workers.map((w) => [w.pid, w.status])).toEqual([
      [102, 'starting'],
      [103, 'starting'],
      [104, 'starting'],
    ]);
    expect(new Set(gw.workers.map((w) => w.instance)).size).toBe(3);
    expect(gw.workers[0]!.instance).toBe('gateway-1.0.0-1-2');
    h.workers[1]!.ready();
    expect(worker(h.sup, 'gateway').status).toBe('ready');
    expect(h.states.at(-1)?.services.gateway?.workers[0]?.status).toBe('ready');
    // A malformed message changes nothing.
    h.workers[2]!.emit('message', 'ready');
    expect(worker(h.sup, 'gateway', 1).status).toBe('starting');
    expect(h.sup.settled()).toBe(false);
    for (const w of h.workers) w.ready();
    expect(h.sup.settled()).toBe(true);
  });

  it('started held, it spawns every worker held and tells each to start only once released', () => {
    const held = harness(() => now, true);
    held.sup.start([{ spec: spec('api'), desired: 1 }, { spec: spec('sts'), desired: 2 }]);
    expect(held.workers.map((w) => w.held)).toEqual([true, true, true]);
    expect(held.sup.snapshot().held).toBe(true);
    expect(held.states.at(-1)?.held).toBe(true);
    const [api, sts1, sts2] = held.workers as [FakeWorker, FakeWorker, FakeWorker];
    api.emit('message', { type: 'held' });
    sts1.emit('message', { type: 'held' });
    expect(api.received).toEqual([]);
    // A crash while held: the restart is held too.
    sts1.die(1);
    vi.advanceTimersByTime(0);
    expect(held.workers).toHaveLength(4);
    expect(held.workers[3]!.held).toBe(true);
    held.workers[3]!.emit('message', { type: 'held' });

    held.sup.release();
    expect(api.received).toEqual([{ type: 'start' }]);
    expect(held.workers[3]!.received).toEqual([{ type: 'start' }]);
    expect(sts1.received).toEqual([]); // dead before the release
    // Still loading when released: told at once when it asks.
    expect(sts2.received).toEqual([]);
    sts2.emit('message', { type: 'held' });
    expect(sts2.received).toEqual([{ type: 'start' }]);
    expect(held.sup.snapshot().held).toBeUndefined();
    expect(held.states.at(-1)?.held).toBeUndefined();
    // Once only: a second release, or a repeated `held`, sends nothing more.
    held.sup.release();
    api.emit('message', { type: 'held' });
    expect(api.received).toHaveLength(1);
    // Launched after the release: not held.
    api.die(1);
    vi.advanceTimersByTime(0);
    expect(held.workers.at(-1)!.held).toBe(false);
  });

  it('a supervisor not started held never holds a worker', () => {
    h.sup.start([{ spec: spec('api'), desired: 1 }]);
    expect(h.workers[0]!.held).toBe(false);
    expect(h.sup.snapshot().held).toBeUndefined();
    h.workers[0]!.emit('message', { type: 'held' }); // a worker started with the variable by hand
    expect(h.workers[0]!.received).toEqual([{ type: 'start' }]);
  });

  /** Kills the newest worker of api and returns how long (fake ms) the supervisor waited before spawning the next. */
  const crashAndTimeRestart = (): number => {
    const before = h.workers.length;
    h.workers.at(-1)!.die(1);
    expect(worker(h.sup).status).toBe('backoff');
    expect(worker(h.sup).pid).toBeNull();
    let waited = 0;
    vi.advanceTimersByTime(0);
    while (h.workers.length === before) {
      vi.advanceTimersByTime(50);
      waited += 50;
    }
    return waited;
  };

  it('restarts a crashed worker at once, then with doubling delays capped at the maximum', () => {
    h.sup.start([{ spec: spec('api'), desired: 1 }]);
    const delays = Array.from({ length: 7 }, () => crashAndTimeRestart());
    expect(delays).toEqual([0, 100, 200, 400, 800, 1000, 1000]);
    expect(h.sup.snapshot().services.api?.restarts).toBe(7);
    expect(worker(h.sup).restarts).toBe(7);
    expect(h.sup.snapshot().services.api?.lastExit).toMatchObject({ code: 1, signal: null });
  });

  it('resets the backoff after a worker stayed up long enough: the next crash restarts at once again', () => {
    h.sup.start([{ spec: spec('api'), desired: 1 }]);
    expect([1, 2, 3, 4].map(() => crashAndTimeRestart())).toEqual([0, 100, 200, 400]);
    now += 4_999; // up, but not yet for resetAfterMs: the backoff continues
    expect(crashAndTimeRestart()).toBe(800);
    now += 5_000; // this run lasted resetAfterMs: healthy again
    expect(crashAndTimeRestart()).toBe(0);
    expect(crashAndTimeRestart()).toBe(100);
  });

  it('each worker of a service has its own backoff; the others keep running', () => {
    h.sup.start([{ spec: spec('gateway'), desired: 2 }]);
    const [a, b] = h.workers;
    a!.die(1);
    vi.advanceTimersByTime(0);
    h.workers.at(-1)!.die(1); // the replacement of a crashes again: a waits 100 ms
    expect(b!.alive).toBe(true);
    vi.advanceTimersByTime(99);
    expect(h.workers).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(h.workers).toHaveLength(4);
    expect(h.sup.snapshot().services.gateway!.workers.map((w) => w.restarts)).toEqual([2, 0]);
  });

  it('stop sends SIGTERM to every worker, waits, and restarts nothing', async () => {
    h.sup.start([{ spec: spec('api'), desired: 1 }, { spec: spec('sts'), desired: 2 }]);
    await h.sup.stop(1000);
    expect(h.workers.map((c) => c.signals)).toEqual([['SIGTERM'], ['SIGTERM'], ['SIGTERM']]);
    vi.advanceTimersByTime(60_000);
    expect(h.workers).toHaveLength(3);
    expect(Object.values(h.sup.snapshot().services).map((x) => x.workers.length)).toEqual([0, 0]);
  });

  it('stop escalates to SIGKILL when a worker ignores SIGTERM', async () => {
    h.ignoreTerm.value = true;
    h.sup.start([{ spec: spec('api'), desired: 1 }]);
    const stopping = h.sup.stop(1000);
    expect(worker(h.sup).status).toBe('draining');
    await vi.advanceTimersByTimeAsync(1000);
    await stopping;
    expect(h.workers[0]!.signals).toEqual(['SIGTERM', 'SIGKILL']);
  });

  it('a pending restart is cancelled by stop', async () => {
    h.sup.start([{ spec: spec('api'), desired: 1 }]);
    h.workers[0]!.die(1);
    await h.sup.stop(1000);
    vi.advanceTimersByTime(10_000);
    expect(h.workers).toHaveLength(1);
  });

  it('while paused nothing is launched or recorded; resume launches the restarts that fell due', () => {
    h.sup.start([{ spec: spec('api'), desired: 1 }]);
    h.sup.pause();
    const recorded = h.states.length;
    h.workers[0]!.die(1);
    vi.advanceTimersByTime(10_000);
    expect(h.workers).toHaveLength(1);
    expect(h.states).toHaveLength(recorded);
    h.sup.resume();
    expect(h.workers).toHaveLength(2);
    expect(h.states.length).toBeGreaterThan(recorded);
  });

  it('spawn failures count as crashes and are retried with backoff', () => {
    let fail = true;
    const s = new Supervisor({
      logger: createLogger({ service: 'test', level: 'silent' }),
      now: () => now,
      version: '1.0.0',
      root: '/r1',
      writeState: () => undefined,
      spawn: (sp, instance) => {
        if (fail) throw new Error('EAGAIN');
        return new FakeWorker(7, sp, instance);
      },
    });
    s.start([{ spec: spec('api'), desired: 1 }]);
    expect(s.snapshot().services.api!.workers[0]).toMatchObject({ status: 'backoff', pid: null, restarts: 1 });
    fail = false;
    vi.advanceTimersByTime(0);
    expect(s.snapshot().services.api!.workers[0]).toMatchObject({ status: 'starting', pid: 7 });
  });
});
