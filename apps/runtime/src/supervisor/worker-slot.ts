// One worker of a service: launches its process, follows its IPC readiness (`{type:'ready'}`, `{type:'draining'}`),
// answers a worker started held (`{type:'held'}`) with `{type:'start'}` once the supervisor releases the start,
// restarts it after a crash — at once, then with doubling backoff while it keeps crashing (R-RT-1) — and drains it
// on request (SIGTERM, SIGKILL after the grace).
import type { Logger } from '@caracal/logging';
import type { ExitRecord, WorkerState } from './state.js';
import type { WorkerProcess } from './worker-process.js';

export interface LaunchSpec {
  service: string;
  root: string;
  version: string;
  entry: string;
  env: Record<string, string>;
  logFile: string;
}

export interface Backoff {
  /** Delay before the second consecutive restart; the first is immediate, later ones double up to `maxMs`. */
  initialMs: number;
  maxMs: number;
  /** A worker that stayed up this long is considered healthy again: its backoff resets. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 250, maxMs: 30_000, resetAfterMs: 30_000 };

/** A single crash is usually transient: restart at once; only a crash loop waits, doubling up to the cap. */
export function restartDelay(consecutiveFailures: number, backoff: Backoff): number {
  if (consecutiveFailures === 0) return 0;
  return Math.min(backoff.initialMs * 2 ** (consecutiveFailures - 1), backoff.maxMs);
}

export interface SlotDeps {
  spawn: (spec: LaunchSpec, instance: string) => WorkerProcess;
  /** Whether a worker that says it is held may start now (see Supervisor.release). */
  released: () => boolean;
  instanceId: (spec: LaunchSpec) => string;
  logger: Logger;
  now: () => number;
  backoff: Backoff;
  /** Something a reader of the state would see changed. */
  changed: () => void;
  /** A kept worker exited unexpectedly. */
  crashed: (exit: ExitRecord) => void;
  /** The worker exited and will not be restarted: the slot can be forgotten. */
  gone: (slot: WorkerSlot) => void;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class WorkerSlot {
  readonly info: WorkerState = { pid: null, instance: '', status: 'starting', startedAt: null, restarts: 0, lastExit: null };
  private proc: WorkerProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private startedMs = 0;
  private paused = false;
  private launchWhenResumed = false;
  /** The process said `held` and has not been told to start. */
  private waiting = false;
  /** The process has been told to start (a repeated `held` is not answered again). */
  private told = false;

  /** `keep`: restart after an exit. Off for a roll's new worker until it is promoted, and once draining. */
  constructor(
    readonly spec: LaunchSpec,
    private readonly deps: SlotDeps,
    public keep: boolean,
  ) {}

  get running(): boolean {
    return this.proc !== undefined;
  }

  launch(): void {
    this.timer = undefined;
    if (this.paused) {
      this.launchWhenResumed = true;
      return;
    }
    const instance = this.deps.instanceId(this.spec);
    this.startedMs = this.deps.now();
    Object.assign(this.info, { pid: null, instance, status: 'starting', startedAt: iso(this.startedMs) });
    let proc: WorkerProcess;
    try {
      proc = this.deps.spawn(this.spec, instance);
    } catch (err) {
      this.deps.logger.error({ worker: instance, err: { message: (err as Error).message } }, 'spawn failed');
      this.ended({ code: null, signal: null, at: iso(this.deps.now()) });
      return;
    }
    this.attach(proc);
    this.deps.logger.info({ worker: instance, workerPid: proc.pid }, 'worker started');
    this.deps.changed();
  }

  /** Follows a process a previous supervisor started, with the state it recorded. */
  adopt(proc: WorkerProcess, previous: WorkerState): void {
    Object.assign(this.info, previous);
    this.startedMs = Date.parse(previous.startedAt ?? '') || this.deps.now();
    this.attach(proc);
  }

  private attach(proc: WorkerProcess): void {
    this.proc = proc;
    this.waiting = false;
    this.told = false;
    this.info.pid = proc.pid ?? null;
    proc.onMessage((m) => this.message(m));
    proc.onExit((code, signal) => {
      if (proc !== this.proc) return;
      this.proc = undefined;
      this.ended({ code, signal, at: iso(this.deps.now()) });
    });
  }

  private message(m: unknown): void {
    const type = typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined;
    if (type === 'held') {
      if (this.told) return;
      this.waiting = true;
      if (this.deps.released()) this.release();
      return;
    }
    if (type === 'ready' && this.info.status === 'starting') {
      this.info.status = 'ready';
      this.deps.logger.info({ worker: this.info.instance, workerPid: this.info.pid }, 'worker ready');
    } else if (type === 'draining') {
      this.info.status = 'draining';
    } else {
      return;
    }
    this.deps.changed();
  }

  private ended(exit: ExitRecord): void {
    Object.assign(this.info, { pid: null, lastExit: exit });
    if (!this.keep) {
      this.deps.changed();
      this.deps.gone(this);
      return;
    }
    this.deps.logger.warn({ worker: this.info.instance, code: exit.code, signal: exit.signal }, 'worker exited; restarting');
    this.deps.crashed(exit);
    const healthy = this.deps.now() - this.startedMs >= this.deps.backoff.resetAfterMs;
    const n = healthy ? 0 : this.failures;
    this.failures = n + 1;
    this.info.status = 'backoff';
    this.info.restarts += 1;
    this.deps.changed();
    this.timer = setTimeout(() => this.launch(), restartDelay(n, this.deps.backoff));
  }

  /** Tells a worker that is waiting for it to start (once; a worker not waiting is left alone); whether it was. */
  release(): boolean {
    if (!this.waiting || !this.proc) return false;
    this.waiting = false;
    this.told = true;
    this.proc.send({ type: 'start' });
    return true;
  }

  /** While paused (a handover in progress) nothing is launched; a restart that falls due waits for `resume`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    if (this.launchWhenResumed) {
      this.launchWhenResumed = false;
      this.launch();
    }
  }

  /** SIGTERM (the worker drains), SIGKILL if it is still running after `graceMs`; never restarted afterwards. */
  async drain(graceMs: number): Promise<void> {
    this.keep = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.launchWhenResumed = false;
    const proc = this.proc;
    if (!proc) {
      this.deps.gone(this);
      return;
    }
    this.info.status = 'draining';
    this.deps.changed();
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => {
        this.deps.logger.warn({ worker: this.info.instance, workerPid: proc.pid }, 'worker still running after the grace; killing');
        proc.kill('SIGKILL');
      }, graceMs);
      proc.onExit(() => {
        clearTimeout(kill);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }
}
