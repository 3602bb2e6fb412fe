// A roll starts the new workers first and drains the old only once every new one said ready; a failed roll kills
// the new and leaves the old untouched. A handover pauses the supervisor, and either leaves (successor adopted)
// or takes the control socket back and carries on. Operations are served one at a time.
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@caracal/logging';
import { dispatcher } from '../../src/supervisor/dispatch.js';
import { handover, type HandoverDeps } from '../../src/supervisor/handover.js';
import type { RollReply } from '../../src/supervisor/protocol.js';
import { roll, type RollDeps } from '../../src/supervisor/roll.js';
import { harness, spec, type Harness } from './fake-workers.js';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('roll', () => {
  let h: Harness;
  const deps: RollDeps = {
    logger,
    now: Date.now,
    launchSpec: (service, root, version) => (root === '/missing' ? `${root}/services/${service}/dist/main.js does not exist` : spec(service, root, version)),
    drainGraceMs: 1000,
    failedGraceMs: 500,
  };
  const req = { type: 'roll' as const, service: 'gateway' as const, root: '/r2', version: '2.0.0', readyTimeoutMs: 5000 };

  beforeEach(() => {
    vi.useFakeTimers();
    h = harness();
    h.sup.start([{ spec: spec('gateway'), desired: 2 }]);
    for (const w of h.workers) w.ready();
  });
  afterEach(() => vi.useRealTimers());

  it('starts the new workers from the new root, drains the old only after every new one is ready', async () => {
    const [old1, old2] = h.workers;
    const rolling = roll(h.sup, req, deps);
    expect(h.workers).toHaveLength(4);
    expect(h.workers.slice(2).map((w) => w.spec.root)).toEqual(['/r2', '/r2']);
    h.workers[2]!.ready();
    await vi.advanceTimersByTimeAsync(100);
    expect(old1!.signals).toEqual([]);
    h.workers[3]!.ready();
    const reply = await rolling;
    expect(reply).toMatchObject({ ok: true, service: 'gateway', from: { version: '1.0.0' }, to: { version: '2.0.0' } });
    expect([old1!.signals, old2!.signals]).toEqual([['SIGTERM'], ['SIGTERM']]);
    const gw = h.sup.snapshot().services.gateway!;
    expect(gw).toMatchObject({ version: '2.0.0', root: '/r2', desired: 2 });
    expect(gw.workers.map((w) => w.pid)).toEqual([h.workers[2]!.pid, h.workers[3]!.pid]);
    // A crash of a promoted worker restarts it from the new root.
    h.workers[2]!.die(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.workers.at(-1)!.spec.root).toBe('/r2');
  });

  it('a new worker that exits before ready fails the roll: new ones killed, old ones untouched', async () => {
    const rolling = roll(h.sup, req, deps);
    h.workers[2]!.ready();
    h.workers[3]!.die(3);
    const reply = (await rolling) as Extract<RollReply, { ok: false }>;
    expect(reply).toMatchObject({ ok: false, service: 'gateway', error: 'exited' });
    expect(reply.detail).toContain('code 3');
    expect(h.workers[2]!.signals).toEqual(['SIGTERM']);
    expect(h.workers[0]!.signals).toEqual([]);
    const gw = h.sup.snapshot().services.gateway!;
    expect(gw).toMatchObject({ version: '1.0.0', root: '/r1' });
    expect(gw.workers.map((w) => w.pid)).toEqual([h.workers[0]!.pid, h.workers[1]!.pid]);
  });

  it('new workers not ready by the deadline are killed (SIGKILL after the grace); the old keep serving', async () => {
    h.ignoreTerm.value = true;
    const rolling = roll(h.sup, req, deps);
    h.workers[2]!.ready();
    await vi.advanceTimersByTimeAsync(5000);
    await vi.advanceTimersByTimeAsync(500);
    const reply = (await rolling) as Extract<RollReply, { ok: false }>;
    expect(reply).toMatchObject({ ok: false, error: 'not_ready' });
    expect(reply.detail).toContain('1 of 2 new gateway worker(s) (2.0.0) were not ready within 5000 ms');
    expect(h.workers[3]!.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(h.workers[0]!.signals).toEqual([]);
    expect(h.sup.snapshot().services.gateway!.workers).toHaveLength(2);
  });

  it('the root it already runs is unchanged unless a restart is asked for; a bad root is refused', async () => {
    expect(await roll(h.sup, { ...req, root: '/r1', version: '1.0.0' }, deps)).toEqual({ ok: true, service: 'gateway', unchanged: true, version: '1.0.0' });
    expect(h.workers).toHaveLength(2);
    expect(await roll(h.sup, { ...req, root: '/missing' }, deps)).toMatchObject({ ok: false, error: 'bad_request', detail: '/missing/services/gateway/dist/main.js does not exist' });
    const restarting = roll(h.sup, { ...req, root: '/r1', version: '1.0.0', restart: true }, deps);
    h.workers[2]!.ready();
    h.workers[3]!.ready();
    expect(await restarting).toMatchObject({ ok: true, from: { version: '1.0.0' }, to: { version: '1.0.0' } });
  });

  it('an old worker that crashes during the roll is restarted from the old root', async () => {
    const rolling = roll(h.sup, req, deps);
    h.workers[0]!.die(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.workers.at(-1)!.spec.root).toBe('/r1');
    for (const w of h.workers.slice(2, 4)) w.ready();
    expect(await rolling).toMatchObject({ ok: true });
    expect(h.workers.at(-1)!.signals).toEqual(['SIGTERM']);
  });

  it('refuses while stopping', async () => {
    void h.sup.stop(100);
    expect(await roll(h.sup, req, deps)).toMatchObject({ ok: false, error: 'stopping' });
  });
});

class FakeSuccessor extends EventEmitter {
  connected = true;
  killed: string[] = [];
  kill(signal: string) {
    this.killed.push(signal);
    return true;
  }
  disconnect() {
    this.connected = false;
  }
}

describe('handover', () => {
  let h: Harness;
  let successor: FakeSuccessor;
  let calls: string[];
  const deps = (over: Partial<HandoverDeps> = {}): HandoverDeps => ({
    logger,
    checkRoot: (root) => (root === '/bad' ? '/bad/apps/runtime/dist/supervisor/main.js does not exist' : undefined),
    writeAdoption: (state) => void calls.push(`adopt:${Object.keys(state.services).join(',')}`),
    removeAdoption: () => void calls.push('remove'),
    spawnSuccessor: (root) => {
      calls.push(`spawn:${root}`);
      return successor as unknown as ChildProcess;
    },
    reclaimControl: async () => void calls.push('reclaim'),
    leave: () => void calls.push('leave'),
    settleMs: 1000,
    takeoverMs: 2000,
    ...over,
  });
  const req = { type: 'handover' as const, root: '/r2', version: '2.0.0' };

  beforeEach(() => {
    vi.useFakeTimers();
    h = harness();
    h.sup.start([{ spec: spec('api'), desired: 1 }]);
    h.workers[0]!.ready();
    successor = new FakeSuccessor();
    calls = [];
  });
  afterEach(() => vi.useRealTimers());

  it('replies with the successor PID and leaves without touching a worker; nothing restarts meanwhile', async () => {
    const going = handover(h.sup, req, deps());
    await vi.advanceTimersByTimeAsync(0);
    successor.emit('message', { type: 'adopted', pid: 4242 });
    const out = await going;
    expect(out.reply).toEqual({ ok: true, pid: 4242 });
    expect(calls).toEqual(['adopt:api', 'spawn:/r2']);
    out.after!();
    expect(calls.at(-1)).toBe('leave');
    expect(successor.connected).toBe(false);
    h.workers[0]!.die(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.workers).toHaveLength(1);
    expect(h.workers[0]!.signals).toEqual([]);
  });

  it('a successor that exits before adopting: killed, socket reclaimed, and this supervisor carries on', async () => {
    const going = handover(h.sup, req, deps());
    await vi.advanceTimersByTimeAsync(0);
    h.workers[0]!.die(1); // while paused: the restart falls due but waits
    await vi.advanceTimersByTimeAsync(0);
    expect(h.workers).toHaveLength(1);
    successor.emit('exit', 1, null);
    const out = await going;
    expect(out.reply).toMatchObject({ ok: false, error: 'handover_failed' });
    expect((out.reply as { detail: string }).detail).toContain('exited before taking over (code 1');
    expect(calls).toEqual(['adopt:api', 'spawn:/r2', 'remove', 'reclaim']);
    expect(successor.killed).toEqual(['SIGKILL']);
    expect(out.after).toBeUndefined();
    expect(h.workers).toHaveLength(2); // the crashed worker was restarted on resume
  });

  it('a successor that never answers times out the same way', async () => {
    const going = handover(h.sup, req, deps());
    await vi.advanceTimersByTimeAsync(2000);
    expect((await going).reply).toMatchObject({ ok: false, error: 'handover_failed', detail: 'the new supervisor did not take over within 2000 ms' });
  });

  it('refuses a root without a supervisor, and waits for starting workers (busy when they never get ready)', async () => {
    expect((await handover(h.sup, { ...req, root: '/bad' }, deps())).reply).toMatchObject({ ok: false, error: 'bad_request' });
    h.workers[0]!.die(1);
    await vi.advanceTimersByTimeAsync(0); // restarted at once: starting
    const going = handover(h.sup, req, deps());
    await vi.advanceTimersByTimeAsync(1000);
    expect((await going).reply).toMatchObject({ ok: false, error: 'busy' });
    expect(calls).toEqual([]);
  });
});

describe('dispatcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('answers status at once, names what is wrong with a bad request, and runs rolls one after another', async () => {
    const h = harness();
    h.sup.start([{ spec: spec('sts'), desired: 1 }]);
    h.workers[0]!.ready();
    const rollDeps: RollDeps = { logger, now: Date.now, launchSpec: (s, root, v) => spec(s, root, v), drainGraceMs: 100, failedGraceMs: 100 };
    const handle = dispatcher(h.sup, rollDeps, {} as HandoverDeps);
    expect((await handle({ type: 'roll', service: 'nope', root: 'rel', version: 'x', readyTimeoutMs: 1 })).reply).toMatchObject({
      ok: false,
      error: 'bad_request',
      detail: expect.stringMatching(/service: .*root: must be an absolute path.*version: must be a version like 1\.2\.3.*readyTimeoutMs/s),
    });
    expect((await handle({ type: 'status', extra: 1 })).reply).toMatchObject({ ok: false, error: 'bad_request' });
    const first = handle({ type: 'roll', service: 'sts', root: '/r2', version: '2.0.0', readyTimeoutMs: 5000 });
    const second = handle({ type: 'roll', service: 'sts', root: '/r3', version: '3.0.0', readyTimeoutMs: 5000 });
    const status = await handle({ type: 'status' });
    expect(status.reply).toMatchObject({ ok: true, state: { services: { sts: { version: '1.0.0' } } } });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.workers.map((w) => w.spec.root)).toEqual(['/r1', '/r2']); // the second waits for the first
    h.workers[1]!.ready();
    expect((await first).reply).toMatchObject({ ok: true, to: { version: '2.0.0' } });
    await vi.advanceTimersByTimeAsync(0);
    h.workers[2]!.ready();
    expect((await second).reply).toMatchObject({ ok: true, from: { version: '2.0.0' }, to: { version: '3.0.0' } });
  });

  it('while held, refuses roll and handover with held (nothing is spawned) until release, which it answers', async () => {
    const h = harness(Date.now, true);
    h.sup.start([{ spec: spec('sts'), desired: 1 }]);
    const rollDeps: RollDeps = { logger, now: Date.now, launchSpec: (s, root, v) => spec(s, root, v), drainGraceMs: 100, failedGraceMs: 100 };
    const handle = dispatcher(h.sup, rollDeps, {} as HandoverDeps);
    const roll = { type: 'roll', service: 'sts', root: '/r2', version: '2.0.0', readyTimeoutMs: 5000 };
    expect((await handle(roll)).reply).toMatchObject({ ok: false, error: 'held', detail: expect.stringContaining('caracal up') });
    expect((await handle({ type: 'handover', root: '/r2', version: '2.0.0' })).reply).toMatchObject({ ok: false, error: 'held' });
    expect(h.workers).toHaveLength(1);
    expect((await handle({ type: 'release', now: true })).reply).toMatchObject({ ok: false, error: 'bad_request' });
    expect((await handle({ type: 'release' })).reply).toEqual({ ok: true, released: true });
    expect((await handle({ type: 'release' })).reply).toEqual({ ok: true, released: false });
    h.workers[0]!.ready();
    const rolled = handle(roll);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.workers.map((w) => [w.spec.root, w.held])).toEqual([
      ['/r1', true],
      ['/r2', false],
    ]);
    h.workers[1]!.ready();
    expect((await rolled).reply).toMatchObject({ ok: true, to: { version: '2.0.0' } });
  });
});
