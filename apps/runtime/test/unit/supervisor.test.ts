// The supervisor restarts a crashed service at once, then with exponential backoff while it keeps crashing, resets
// the backoff after a healthy run, and stops everything with SIGTERM then SIGKILL.
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@caracal/logging';
import { Supervisor, type ServiceSpec, type SupervisorState } from '../../src/supervisor/supervisor.js';

class FakeChild extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  signals: string[] = [];
  constructor(
    readonly pid: number,
    private readonly ignoreTerm = false,
  ) {
    super();
  }
  kill(signal: NodeJS.Signals = 'SIGTERM') {
    this.signals.push(signal);
    if (signal === 'SIGTERM' && this.ignoreTerm) return true;
    this.die(null, signal);
    return true;
  }
  die(code: number | null, signal: NodeJS.Signals | null = null) {
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
  }
}

const spec = (name: string): ServiceSpec => ({ name, entry: `/x/${name}.js`, env: {}, logFile: `/tmp/${name}.log` });

describe('Supervisor', () => {
  let now = 0;
  let pid = 100;
  let children: FakeChild[];
  let states: SupervisorState[];
  let ignoreTerm = false;
  const make = (names: string[]) =>
    new Supervisor(
      names.map(spec),
      {
        logger: createLogger({ service: 'test', level: 'silent' }),
        now: () => now,
        pid: 1,
        writeState: (s) => states.push(structuredClone(s)),
        spawn: () => {
          const c = new FakeChild(++pid, ignoreTerm);
          children.push(c);
          return c as unknown as ChildProcess;
        },
      },
      { initialMs: 100, maxMs: 1000, resetAfterMs: 5000 },
    );

  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
    pid = 100;
    children = [];
    states = [];
    ignoreTerm = false;
  });
  afterEach(() => vi.useRealTimers());

  it('starts every service and records its pid', () => {
    const s = make(['api', 'sts']);
    s.start();
    expect(children).toHaveLength(2);
    expect(s.snapshot().services.api).toMatchObject({ pid: 101, status: 'running', restarts: 0 });
    expect(states.at(-1)?.services.sts?.pid).toBe(102);
  });

  /** Kills the newest child and returns how long (fake ms) the supervisor waited before spawning the next. */
  const crashAndTimeRestart = (s: Supervisor): number => {
    const before = children.length;
    children.at(-1)!.die(1);
    expect(s.snapshot().services.api?.status).toBe('backoff');
    let waited = 0;
    vi.advanceTimersByTime(0);
    while (children.length === before) {
      vi.advanceTimersByTime(50);
      waited += 50;
    }
    return waited;
  };

  it('restarts a crashed service at once, then with doubling delays capped at the maximum', () => {
    const s = make(['api']);
    s.start();
    const delays = Array.from({ length: 7 }, () => crashAndTimeRestart(s));
    expect(delays).toEqual([0, 100, 200, 400, 800, 1000, 1000]);
    expect(s.snapshot().services.api?.restarts).toBe(7);
    expect(s.snapshot().services.api?.lastExit).toMatchObject({ code: 1, signal: null });
  });

  it('resets the backoff after a service stayed up long enough: the next crash restarts at once again', () => {
    const s = make(['api']);
    s.start();
    expect([1, 2, 3, 4].map(() => crashAndTimeRestart(s))).toEqual([0, 100, 200, 400]);
    now += 4_999; // up, but not yet for resetAfterMs: the backoff continues
    expect(crashAndTimeRestart(s)).toBe(800);
    now += 5_000; // this run lasted resetAfterMs: healthy again
    expect(crashAndTimeRestart(s)).toBe(0);
    expect(crashAndTimeRestart(s)).toBe(100);
  });

  it('stop sends SIGTERM, waits, and does not restart what it stopped', async () => {
    const s = make(['api', 'sts']);
    s.start();
    await s.stop(1000);
    expect(children.map((c) => c.signals)).toEqual([['SIGTERM'], ['SIGTERM']]);
    vi.advanceTimersByTime(60_000);
    expect(children).toHaveLength(2);
    expect(Object.values(s.snapshot().services).map((x) => x.status)).toEqual(['stopped', 'stopped']);
  });

  it('stop escalates to SIGKILL when a service ignores SIGTERM', async () => {
    ignoreTerm = true;
    const s = make(['api']);
    s.start();
    const stopping = s.stop(1000);
    await vi.advanceTimersByTimeAsync(1000);
    await stopping;
    expect(children[0]!.signals).toEqual(['SIGTERM', 'SIGKILL']);
  });

  it('a pending restart is cancelled by stop', async () => {
    const s = make(['api']);
    s.start();
    children[0]!.die(1);
    await s.stop(1000);
    vi.advanceTimersByTime(10_000);
    expect(children).toHaveLength(1);
  });
});
