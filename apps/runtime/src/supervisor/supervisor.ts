// Keeps the service processes running (R-RT-1): restarts a crashed service at once, then with exponential backoff
// while it keeps crashing; writes each service's output to its log file, records its state, and stops everything
// gracefully on request.
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '@caracal/logging';

export interface ServiceSpec {
  name: string;
  entry: string;
  env: Record<string, string>;
  logFile: string;
}

export interface ServiceState {
  pid: number | null;
  status: 'starting' | 'running' | 'backoff' | 'stopped';
  restarts: number;
  startedAt: string | null;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
}

export interface SupervisorState {
  pid: number;
  startedAt: string;
  services: Record<string, ServiceState>;
}

export interface SupervisorDeps {
  spawn: (spec: ServiceSpec) => ChildProcess;
  writeState: (state: SupervisorState) => void;
  logger: Logger;
  now?: () => number;
  pid?: number;
}

export interface Backoff {
  /** Delay before the second consecutive restart; the first is immediate, later ones double up to `maxMs`. */
  initialMs: number;
  maxMs: number;
  /** A service that stayed up this long is considered healthy again: its backoff resets. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 250, maxMs: 30_000, resetAfterMs: 30_000 };

export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private readonly state: SupervisorState;
  private stopping = false;
  private readonly now: () => number;

  constructor(
    private readonly specs: readonly ServiceSpec[],
    private readonly deps: SupervisorDeps,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {
    this.now = deps.now ?? Date.now;
    this.state = {
      pid: deps.pid ?? process.pid,
      startedAt: new Date(this.now()).toISOString(),
      services: Object.fromEntries(specs.map((s) => [s.name, { pid: null, status: 'starting', restarts: 0, startedAt: null, lastExit: null }])),
    };
  }

  start(): void {
    for (const spec of this.specs) this.launch(spec);
    this.persist();
  }

  snapshot(): SupervisorState {
    return structuredClone(this.state);
  }

  private launch(spec: ServiceSpec): void {
    if (this.stopping) return;
    const st = this.state.services[spec.name]!;
    const startedAt = this.now();
    let child: ChildProcess;
    try {
      child = this.deps.spawn(spec);
    } catch (err) {
      this.deps.logger.error({ service: spec.name, err: { message: (err as Error).message } }, 'spawn failed');
      this.scheduleRestart(spec, startedAt);
      return;
    }
    this.children.set(spec.name, child);
    Object.assign(st, { pid: child.pid ?? null, status: 'running', startedAt: new Date(startedAt).toISOString() });
    this.deps.logger.info({ service: spec.name, pid: child.pid }, 'service started');
    child.once('exit', (code, signal) => {
      this.children.delete(spec.name);
      st.pid = null;
      st.lastExit = { code, signal, at: new Date(this.now()).toISOString() };
      if (this.stopping) {
        st.status = 'stopped';
        this.persist();
        return;
      }
      this.deps.logger.warn({ service: spec.name, code, signal }, 'service exited; restarting');
      this.scheduleRestart(spec, startedAt);
    });
    child.once('error', (err) => this.deps.logger.error({ service: spec.name, err: { message: err.message } }, 'service process error'));
  }

  private scheduleRestart(spec: ServiceSpec, startedAt: number): void {
    const st = this.state.services[spec.name]!;
    const healthy = this.now() - startedAt >= this.backoff.resetAfterMs;
    const n = healthy ? 0 : (this.failures.get(spec.name) ?? 0);
    this.failures.set(spec.name, n + 1);
    const delay = restartDelay(n, this.backoff);
    st.status = 'backoff';
    st.restarts += 1;
    this.persist();
    this.timers.set(
      spec.name,
      setTimeout(() => {
        this.timers.delete(spec.name);
        this.launch(spec);
        this.persist();
      }, delay),
    );
  }

  /** SIGTERM to every service, SIGKILL to those still running after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const exits = [...this.children.entries()].map(
      ([name, child]) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => {
            this.deps.logger.warn({ service: name }, 'service ignored SIGTERM; killing');
            child.kill('SIGKILL');
          }, graceMs);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    for (const st of Object.values(this.state.services)) st.status = 'stopped';
    this.persist();
  }

  private persist(): void {
    try {
      this.deps.writeState(this.state);
    } catch (err) {
      this.deps.logger.error({ err: { message: (err as Error).message } }, 'could not write supervisor state');
    }
  }
}

/** A single crash is usually transient: restart at once; only a crash loop waits, doubling up to the cap. */
export function restartDelay(consecutiveFailures: number, backoff: Backoff): number {
  if (consecutiveFailures === 0) return 0;
  return Math.min(backoff.initialMs * 2 ** (consecutiveFailures - 1), backoff.maxMs);
}
