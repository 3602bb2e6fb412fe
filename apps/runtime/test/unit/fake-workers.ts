// Fake worker processes and a supervisor wired to them, for the supervisor's unit tests.
import { EventEmitter } from 'node:events';
import { createLogger } from '@caracal/logging';
import { Supervisor, type LaunchSpec } from '../../src/supervisor/supervisor.js';
import type { SupervisorState } from '../../src/supervisor/state.js';
import type { WorkerProcess } from '../../src/supervisor/worker-process.js';

export class FakeWorker extends EventEmitter implements WorkerProcess {
  signals: string[] = [];
  /** What the supervisor sent it over IPC. */
  received: unknown[] = [];
  alive = true;
  constructor(
    readonly pid: number,
    readonly spec: LaunchSpec,
    readonly instance: string,
    private readonly ignoreTerm = false,
    /** Spawned to wait for `start` (CARACAL_START_HELD). */
    readonly held = false,
  ) {
    super();
  }
  kill(signal: NodeJS.Signals) {
    if (!this.alive) return false;
    this.signals.push(signal);
    if (signal === 'SIGTERM' && this.ignoreTerm) return true;
    this.die(null, signal);
    return true;
  }
  die(code: number | null, signal: NodeJS.Signals | null = null) {
    this.alive = false;
    this.emit('exit', code, signal);
  }
  ready() {
    this.emit('message', { type: 'ready', instance: this.instance });
  }
  onExit = (l: (code: number | null, signal: NodeJS.Signals | null) => void) => void this.once('exit', l);
  onMessage = (l: (m: unknown) => void) => void this.on('message', l);
  send = (m: unknown) => void (this.alive && this.received.push(m));
}

export const spec = (service: string, root = '/r1', version = '1.0.0'): LaunchSpec => ({ service, root, version, entry: `${root}/services/${service}/dist/main.js`, env: {}, logFile: `/tmp/${service}.log` });

export interface Harness {
  sup: Supervisor;
  workers: FakeWorker[];
  states: SupervisorState[];
  ignoreTerm: { value: boolean };
}

export function harness(now: () => number = Date.now, held = false): Harness {
  const workers: FakeWorker[] = [];
  const states: SupervisorState[] = [];
  const ignoreTerm = { value: false };
  let pid = 100;
  const sup = new Supervisor(
    {
      logger: createLogger({ service: 'test', level: 'silent' }),
      now,
      pid: 1,
      version: '1.0.0',
      root: '/r1',
      held,
      writeState: (s) => states.push(structuredClone(s)),
      spawn: (sp, instance, heldWorker) => {
        const w = new FakeWorker(++pid, sp, instance, ignoreTerm.value, heldWorker);
        workers.push(w);
        return w;
      },
    },
    { initialMs: 100, maxMs: 1000, resetAfterMs: 5000 },
  );
  return { sup, workers, states, ignoreTerm };
}
