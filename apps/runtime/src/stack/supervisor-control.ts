// Starts, finds and stops the detached supervisor that runs the services.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../home/lock.js';
import type { HomeLayout } from '../home/paths.js';
import type { SupervisorState } from '../supervisor/supervisor.js';
import { supervisorEntry } from '../version.js';
import type { StackContext } from './context.js';

export function readSupervisorState(home: HomeLayout): SupervisorState | undefined {
  try {
    return JSON.parse(readFileSync(home.supervisorState, 'utf8')) as SupervisorState;
  } catch {
    return undefined;
  }
}

/** A PID counts only while it is alive and still runs the program we expect (PIDs get reused). */
export function pidRuns(pid: number | null | undefined, needle: string): boolean {
  if (!pid || !pidAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return true; // no /proc (macOS): trust the liveness check
  }
}

export function runningSupervisor(home: HomeLayout): SupervisorState | undefined {
  const state = readSupervisorState(home);
  return state && pidRuns(state.pid, join('supervisor', 'main.js')) ? state : undefined;
}

export async function startSupervisor(ctx: StackContext): Promise<number> {
  mkdirSync(ctx.home.logsDir, { recursive: true, mode: 0o700 });
  const fd = openSync(join(ctx.home.logsDir, 'supervisor.log'), 'a', 0o600);
  const env: Record<string, string> = { PATH: ctx.env.PATH ?? '/usr/bin:/bin', CARACAL_HOME: ctx.home.root, CARACAL_INSTALL_ROOT: ctx.root };
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, [supervisorEntry(ctx.root)], { detached: true, stdio: ['ignore', fd, fd], env, cwd: ctx.root });
    pid = child.pid;
    child.unref();
  } finally {
    closeSync(fd);
  }
  for (let i = 0; i < 100; i++) {
    const state = readSupervisorState(ctx.home);
    if (state?.pid === pid) return pid!;
    if (!pid || !pidAlive(pid)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the supervisor did not start (see ${join(ctx.home.logsDir, 'supervisor.log')})`);
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (!pidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !pidAlive(pid);
}

/** Stops the supervisor (which stops the services), then any service left behind by a supervisor that died. */
export async function stopSupervisor(home: HomeLayout, graceMs = 15_000): Promise<{ stopped: boolean; leftovers: number }> {
  const state = readSupervisorState(home);
  let stopped = false;
  if (state && pidRuns(state.pid, join('supervisor', 'main.js'))) {
    process.kill(state.pid, 'SIGTERM');
    if (!(await waitGone(state.pid, graceMs))) process.kill(state.pid, 'SIGKILL');
    stopped = true;
  }
  let leftovers = 0;
  for (const [name, st] of Object.entries(state?.services ?? {})) {
    if (pidRuns(st.pid, join('services', name))) {
      leftovers++;
      process.kill(st.pid!, 'SIGTERM');
      if (!(await waitGone(st.pid!, graceMs))) process.kill(st.pid!, 'SIGKILL');
    }
  }
  return { stopped, leftovers };
}
