// The IPC side of a worker: `ready` sent once and only after readiness passed, polling that stops with the drain,
// and a channel that is missing or gone never throwing.
import { describe, expect, it } from 'vitest';
import { announceReady, processIpc, type WorkerMessage } from '../../src/worker-ipc.js';

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
