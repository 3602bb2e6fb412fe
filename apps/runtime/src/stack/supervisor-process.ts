// Starts the detached supervisor with the services' listening sockets, and stops it (it drains every worker),
// then anything a supervisor that died left behind.
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join, sep } from 'node:path';
import { SERVICE_NAMES, type ServiceName } from '@caracal/db';
import { pidAlive } from '../home/lock.js';
import { portFree } from '../managed/ports.js';
import type { HomeLayout } from '../home/paths.js';
import { workersKey } from '../home/settings.js';
import { formatFds, type ServiceFds } from '../supervisor/fds.js';
import { supervisorArgs } from '../version.js';
import type { StackContext } from './context.js';
import { listenServiceSockets } from './listen-sockets.js';
import { portHolders, processEnv } from './port-holders.js';
import { pidExiting } from '../supervisor/worker-process.js';
import { pidRuns, readSupervisorState, runningSupervisor, SUPERVISOR_NEEDLE, supervisorSocket } from './supervisor-control.js';

/** The supervisor finds the sockets on fds 3.. in service order. */
const SUPERVISOR_FDS = Object.fromEntries(SERVICE_NAMES.map((s, i) => [s, 3 + i])) as ServiceFds;

/**
 * Binds every service's socket (a busy port is named), starts the supervisor holding them; returns its PID.
 * `held`: its workers load their code and wait for releaseSupervisor before they read configuration, connect or
 * take a request (`caracal up` migrates meanwhile).
 */
export async function startSupervisor(ctx: StackContext, opts: { held?: boolean } = {}): Promise<number> {
  mkdirSync(ctx.home.logsDir, { recursive: true, mode: 0o700 });
  mkdirSync(ctx.home.dataDir, { recursive: true, mode: 0o700 });
  const overrides = Object.fromEntries(SERVICE_NAMES.map(workersKey).flatMap((k) => (ctx.env[k] === undefined ? [] : [[k, ctx.env[k]!]])));
  const env: Record<string, string> = {
    PATH: ctx.env.PATH ?? '/usr/bin:/bin',
    CARACAL_HOME: ctx.home.root,
    CARACAL_INSTALL_ROOT: ctx.root,
    CARACAL_SUPERVISOR_FDS: formatFds(SUPERVISOR_FDS),
    ...(opts.held ? { CARACAL_SUPERVISOR_HOLD: '1' } : {}),
    ...overrides,
  };
  const log = openSync(join(ctx.home.logsDir, 'supervisor.log'), 'a', 0o600);
  let pid: number | undefined;
  try {
    const sockets = await listenServiceSockets(ctx);
    try {
      const stdio: StdioOptions = ['ignore', log, log, ...SERVICE_NAMES.map((s) => sockets.fds[s])];
      const child = spawn(process.execPath, supervisorArgs(ctx.root), { detached: true, stdio, env, cwd: ctx.root });
      pid = child.pid;
      child.unref();
    } finally {
      sockets.close();
    }
  } finally {
    closeSync(log);
  }
  for (let i = 0; i < 200; i++) {
    if (readSupervisorState(ctx.home)?.pid === pid) return pid!;
    if (!pid || !pidAlive(pid)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Not left running unrecorded: it drains whatever workers it started (a held one ends at once).
  if (pid && pidAlive(pid)) await terminate(pid, SUPERVISOR_NEEDLE, 25_000);
  throw new Error(`the supervisor did not start (see ${join(ctx.home.logsDir, 'supervisor.log')})`);
}

/** Until the process no longer runs `needle` and has let go of its sockets (a port it held is free again). */
async function waitGone(pid: number, needle: string, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (!pidRuns(pid, needle)) {
      // Bounded: a PID reused meanwhile by another process must not hold `up` for long.
      for (let exiting = 0; exiting < 3000 && pidExiting(pid); exiting += 20) await new Promise((r) => setTimeout(r, 20));
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return !pidRuns(pid, needle);
}

/** How long the ports of stopped leftovers may take to accept a bind again. */
const PORT_RELEASE_MS = 3000;

/**
 * Waits (bounded) until every port accepts a bind. Once a stopped leftover's process is gone its port has no holder,
 * yet a bind to it was seen to fail for a moment afterwards (in a CI run, for an orphaned audit worker): the caller's
 * port check would then refuse the start. A port still busy at the end is left for that check to report.
 */
async function portsReleased(ports: number[], ms: number): Promise<void> {
  for (let waited = 0; waited < ms; waited += 50) {
    if ((await Promise.all(ports.map((p) => portFree(p)))).every(Boolean)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM, then SIGKILL when `pid` still runs `needle` after `graceMs`. */
async function terminate(pid: number, needle: string, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (!(await waitGone(pid, needle, graceMs))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return; // gone meanwhile
    }
    await waitGone(pid, needle, 5000);
  }
}

/**
 * This home's service processes listening on `ports` that the state file does not list (a worker whose record a
 * supervisor that died never wrote): a process counts as this home's when it runs a service entry and reads its
 * secrets from this home.
 */
function unlistedHolders(home: HomeLayout, ports: Partial<Record<ServiceName, number>>, listed: Set<number>): { pid: number; needle: string }[] {
  const holders = portHolders(Object.values(ports));
  return Object.entries(ports).flatMap(([name, port]) =>
    holders
      .get(port!)!
      .filter((h) => !listed.has(h.pid) && h.command.includes(join('services', name)))
      .filter((h) => processEnv(h.pid).get('REDIS_URL_FILE')?.startsWith(home.secretsDir + sep) === true)
      .map((h) => ({ pid: h.pid, needle: join('services', name) })),
  );
}

/**
 * Stops the supervisor — it drains every worker (each gets SIGTERM, finishes what it holds, and exits) — then any
 * worker left by a supervisor that died: those its state file lists and, given the stack's `ports`, this home's
 * service processes still listening there. `graceMs` covers the supervisor's own drain grace (15 s) with a margin.
 */
export async function stopSupervisor(
  home: HomeLayout,
  opts: { ports?: Partial<Record<ServiceName, number>>; graceMs?: number } = {},
): Promise<{ stopped: boolean; leftovers: number }> {
  const graceMs = opts.graceMs ?? 25_000;
  const state = readSupervisorState(home);
  let stopped = false;
  if (state && pidRuns(state.pid, SUPERVISOR_NEEDLE)) {
    await terminate(state.pid, SUPERVISOR_NEEDLE, graceMs);
    stopped = true;
  }
  const left = Object.entries(state?.services ?? {}).flatMap(([name, st]) =>
    (st.workers ?? []).flatMap((w) => (w.pid && pidRuns(w.pid, join('services', name)) ? [{ pid: w.pid, needle: join('services', name) }] : [])),
  );
  left.push(...unlistedHolders(home, opts.ports ?? {}, new Set(left.map((w) => w.pid))));
  await Promise.all(left.map((w) => terminate(w.pid, w.needle, graceMs)));
  if (left.length > 0) await portsReleased(Object.values(opts.ports ?? {}), PORT_RELEASE_MS);
  if (!runningSupervisor(home)) rmSync(supervisorSocket(home), { force: true });
  return { stopped, leftovers: left.length };
}
