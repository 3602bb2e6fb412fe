// Keeps every service's workers running (R-RT-1): `desired` workers per service, each restarted after a crash;
// replaces a service's workers during a roll; records the state after every change; drains everything on stop.
import type { Logger } from '@caracal/logging';
import type { ExitRecord, SupervisorState, WorkerState } from './state.js';
import type { WorkerProcess } from './worker-process.js';
import { DEFAULT_BACKOFF, WorkerSlot, type Backoff, type LaunchSpec, type SlotDeps } from './worker-slot.js';

export { DEFAULT_BACKOFF, restartDelay, type Backoff, type LaunchSpec } from './worker-slot.js';

export interface SupervisorDeps {
  /** `held`: the worker is to load its code and wait for `start` (CARACAL_START_HELD) before doing anything else. */
  spawn: (spec: LaunchSpec, instance: string, held: boolean) => WorkerProcess;
  /** Start held: workers launched before `release` wait for it (while `caracal up` migrates the database). */
  held?: boolean;
  writeState: (state: SupervisorState) => void;
  logger: Logger;
  /** Version and install root of the supervisor's own code. */
  version: string;
  root: string;
  now?: () => number;
  pid?: number;
}

export interface ServiceInit {
  spec: LaunchSpec;
  desired: number;
}

/** A service as a previous supervisor recorded it, with the processes to watch in place of its workers. */
export interface AdoptedService extends ServiceInit {
  workers: Array<{ state: WorkerState; process: WorkerProcess | undefined }>;
  restarts: number;
  lastExit: ExitRecord | null;
}

interface ServiceRun extends ServiceInit {
  slots: WorkerSlot[];
  restarts: number;
  lastExit: ExitRecord | null;
}

export class Supervisor {
  private readonly runs = new Map<string, ServiceRun>();
  private readonly waiters = new Set<() => void>();
  private readonly now: () => number;
  private readonly pid: number;
  private readonly startedAt: string;
  private seq = 0;
  private paused = false;
  private holding: boolean;
  stopping = false;

  constructor(
    private readonly deps: SupervisorDeps,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {
    this.now = deps.now ?? Date.now;
    this.holding = deps.held ?? false;
    this.pid = deps.pid ?? process.pid;
    this.startedAt = new Date(this.now()).toISOString();
  }

  start(services: readonly ServiceInit[]): void {
    for (const s of services) {
      this.runs.set(s.spec.service, { ...s, slots: [], restarts: 0, lastExit: null });
      this.addWorkers(s.spec.service, s.spec, s.desired, true);
    }
    this.persist();
  }

  /** Takes over a previous supervisor's workers; a dead one (no process) is launched again when not paused. */
  adopt(services: readonly AdoptedService[]): void {
    for (const s of services) {
      const run: ServiceRun = { spec: s.spec, desired: s.desired, slots: [], restarts: s.restarts, lastExit: s.lastExit };
      this.runs.set(s.spec.service, run);
      for (const w of s.workers) {
        const slot = this.slot(run, s.spec, true);
        if (w.process) slot.adopt(w.process, w.state);
        else slot.launch();
      }
      const missing = s.desired - run.slots.length;
      if (missing > 0) this.addWorkers(s.spec.service, s.spec, missing, true);
    }
    this.persist();
  }

  /** What a service's workers run now, and how many of them. */
  serviceSpec(name: string): ServiceInit | undefined {
    const run = this.runs.get(name);
    return run && { spec: run.spec, desired: run.desired };
  }

  /** Starts `count` more workers of a service from `spec`; `keep: false` for a roll's new ones. */
  addWorkers(name: string, spec: LaunchSpec, count: number, keep: boolean): WorkerSlot[] {
    const run = this.runs.get(name)!;
    const slots = Array.from({ length: count }, () => this.slot(run, spec, keep));
    for (const s of slots) s.launch();
    return slots;
  }

  /** A roll succeeded: `fresh` become the service's workers (restarted from `spec` from now on); returns the old. */
  promote(name: string, spec: LaunchSpec, fresh: readonly WorkerSlot[]): WorkerSlot[] {
    const run = this.runs.get(name)!;
    const old = run.slots.filter((s) => !fresh.includes(s));
    for (const s of old) s.keep = false;
    for (const s of fresh) s.keep = true;
    run.spec = spec;
    this.changed();
    return old;
  }

  private slot(run: ServiceRun, spec: LaunchSpec, keep: boolean): WorkerSlot {
    const deps: SlotDeps = {
      spawn: (sp, instance) => this.deps.spawn(sp, instance, this.holding),
      released: () => !this.holding,
      instanceId: (sp) => `${sp.service}-${sp.version}-${this.pid}-${++this.seq}`,
      logger: this.deps.logger,
      now: this.now,
      backoff: this.backoff,
      changed: () => this.changed(),
      crashed: (exit) => {
        run.restarts += 1;
        run.lastExit = exit;
      },
      gone: (slot) => {
        run.slots = run.slots.filter((s) => s !== slot);
        this.changed();
      },
    };
    const slot = new WorkerSlot(spec, deps, keep);
    if (this.paused) slot.pause();
    run.slots.push(slot);
    return slot;
  }

  /** Resolves true once `done()` holds (checked after every change), false when `timeoutMs` passes first. */
  waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        finish(true);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(done()), timeoutMs);
      this.waiters.add(check);
    });
  }

  /** No worker is starting or draining: every running one said ready. */
  settled(): boolean {
    return [...this.runs.values()].every((r) => r.slots.every((s) => s.info.status === 'ready' || (s.info.status === 'backoff' && !s.running)));
  }

  /**
   * Ends the hold: every worker waiting is told to start, one that says it is held later (it was still loading) is
   * told at once, and workers launched from now on (restarts, rolls) are not held. Doing it again changes nothing.
   * Returns whether this call ended a hold.
   */
  release(): boolean {
    if (!this.holding) return false;
    this.holding = false;
    const slots = this.allSlots();
    const waiting = slots.filter((s) => s.release()).length;
    // `loading`: still loading their code; each is told to start as soon as it says it is held.
    this.deps.logger.info({ waiting, loading: slots.filter((s) => s.running).length - waiting }, 'workers released');
    this.changed();
    return true;
  }

  /** Whether the workers' start is still held (see release). */
  get held(): boolean {
    return this.holding;
  }

  /** Stops launching and recording (a successor is about to take over); `resume` undoes it. */
  pause(): void {
    this.paused = true;
    for (const s of this.allSlots()) s.pause();
  }

  resume(): void {
    this.paused = false;
    for (const s of this.allSlots()) s.resume();
    this.persist();
  }

  snapshot(): SupervisorState {
    return {
      pid: this.pid,
      startedAt: this.startedAt,
      version: this.deps.version,
      root: this.deps.root,
      ...(this.holding ? { held: true } : {}),
      services: Object.fromEntries(
        [...this.runs.entries()].map(([name, run]) => [
          name,
          { version: run.spec.version, root: run.spec.root, desired: run.desired, workers: run.slots.map((s) => ({ ...s.info })), restarts: run.restarts, lastExit: run.lastExit },
        ]),
      ),
    };
  }

  /** Drains every worker: SIGTERM to each, SIGKILL to those still running after `graceMs`; nothing restarts. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(this.allSlots().map((s) => s.drain(graceMs)));
    this.changed();
  }

  private allSlots(): WorkerSlot[] {
    return [...this.runs.values()].flatMap((r) => r.slots);
  }

  private changed(): void {
    this.persist();
    for (const w of [...this.waiters]) w();
  }

  /** Writes the state file; not while paused, when a successor may already own it. */
  persist(force = false): void {
    if (this.paused && !force) return;
    try {
      this.deps.writeState(this.snapshot());
    } catch (err) {
      this.deps.logger.error({ err: { message: (err as Error).message } }, 'could not write supervisor state');
    }
  }
}
