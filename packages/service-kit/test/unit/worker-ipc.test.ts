// The IPC side of a worker: `ready` sent once and only after readiness passed, polling that stops with the drain,
// and a channel that is missing or gone never throwing.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { announceReady, awaitStart, HeldStartError, processIpc, type WorkerMessage } from '../../src/worker-ipc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('announceReady', () => {
  it('sends once, after the first passing check; a failing or throwing check is not ready', async () => {
    const answers = [false, 'throw', false, true, true, true];
    let checks = 0;
    let sent = 0;
    announceReady(
      async () => {
        const a = answers[Math.min(checks++, answers.length - 1)];
        if (a === 'throw') throw new Error('redis down');
        return a as boolean;
      },
      () => sent++,
      5,
    );
    await sleep(150);
    expect(sent).toBe(1);
    expect(checks).toBe(4);
  });

  it('stops polling when stopped (the drain began) and never sends afterwards', async () => {
    let checks = 0;
    let sent = 0;
    let ready = false;
    const stop = announceReady(async () => (checks++, ready), () => sent++, 5);
    await sleep(40);
    stop();
    ready = true;
    const seen = checks;
    await sleep(60);
    expect(checks - seen).toBeLessThanOrEqual(1);
    expect(sent).toBe(0);
  });
});

describe('processIpc', () => {
  const msg: WorkerMessage = { type: 'draining', instance: 'x' };

  it('is detached without a channel and sends nothing', () => {
    const ipc = processIpc({ connected: false } as NodeJS.Process);
    expect(ipc.attached).toBe(false);
    expect(() => ipc.send(msg)).not.toThrow();
  });

  it('sends over a connected channel, with a callback so a failed send is not an error event', () => {
    const calls: unknown[][] = [];
    const ipc = processIpc({ connected: true, send: (...args: unknown[]) => (calls.push(args), true) } as unknown as NodeJS.Process);
    expect(ipc.attached).toBe(true);
    ipc.send(msg);
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toEqual(msg);
    expect(typeof calls[0]![3]).toBe('function');
  });

  it('neither sends on a closed channel nor throws when the send does', () => {
    let calls = 0;
    const closed = processIpc({ connected: false, send: () => (calls++, true) } as unknown as NodeJS.Process);
    closed.send(msg);
    expect(calls).toBe(0);
    const throwing = processIpc({
      connected: true,
      send: () => {
        throw Object.assign(new Error('Channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' });
      },
    } as unknown as NodeJS.Process);
    expect(() => throwing.send(msg)).not.toThrow();
  });
});

describe('awaitStart', () => {
  /** A process with an IPC channel: records what it sends, and can be sent messages or lose the channel. */
  const channel = () => {
    const proc = new EventEmitter() as EventEmitter & { connected: boolean; sent: unknown[]; send: (m: unknown, ...rest: unknown[]) => boolean };
    proc.connected = true;
    proc.sent = [];
    proc.send = (m) => (proc.sent.push(m), true);
    return proc;
  };
  const asProcess = (p: unknown) => p as NodeJS.Process;

  it('resolves at once without CARACAL_START_HELD, and sends nothing', async () => {
    const proc = channel();
    await awaitStart({}, asProcess(proc));
    await awaitStart({ CARACAL_START_HELD: '0' }, asProcess(proc));
    expect(proc.sent).toEqual([]);
  });

  it('says held, ignores other messages, and resolves on start; then stops listening', async () => {
    const proc = channel();
    let started = false;
    const wait = awaitStart({ CARACAL_START_HELD: '1' }, asProcess(proc)).then(() => (started = true));
    expect(proc.sent).toEqual([{ type: 'held' }]);
    proc.emit('message', { type: 'stop' });
    proc.emit('message', 'start');
    await new Promise((r) => setImmediate(r));
    expect(started).toBe(false);
    proc.emit('message', { type: 'start' });
    await wait;
    expect(started).toBe(true);
    expect(proc.listenerCount('message')).toBe(0);
    expect(proc.listenerCount('disconnect')).toBe(0);
  });

  it('fails when the channel closes first (nobody is left to start it)', async () => {
    const proc = channel();
    const wait = awaitStart({ CARACAL_START_HELD: '1' }, asProcess(proc));
    proc.emit('disconnect');
    await expect(wait).rejects.toBeInstanceOf(HeldStartError);
    await expect(wait).rejects.toThrow(/went away before it started/);
  });

  it('fails at once when held without a channel', async () => {
    await expect(awaitStart({ CARACAL_START_HELD: '1' }, asProcess({ connected: false }))).rejects.toThrow(/no supervisor channel/);
  });
});
