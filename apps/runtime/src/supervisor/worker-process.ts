// One worker process as the supervisor sees it: a child it spawned (exit event, IPC messages), or a process it
// adopted from the supervisor it replaced (no IPC channel: its PID is watched, checked against /proc cmdline).
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { pidAlive } from '../home/lock.js';

export type ExitListener = (code: number | null, signal: NodeJS.Signals | null) => void;

export interface WorkerProcess {
  readonly pid: number | undefined;
  /** False when the process is already gone. */
  kill: (signal: NodeJS.Signals) => boolean;
  /** Called once, when the process has exited (or could not be started). */
  onExit: (listener: ExitListener) => void;
  onMessage: (listener: (message: unknown) => void) => void;
  /** Sends over the process's IPC channel; nothing happens when there is none (an adopted worker) or it closed. */
  send: (message: unknown) => void;
}

/** A PID counts only while it is alive and still runs the program we expect: PIDs get reused, zombies linger. */
export function pidRuns(pid: number | null | undefined, needle: string): boolean {
  if (!pid || !pidAlive(pid)) return false;
  try {
    // A zombie (exited, not yet reaped by whoever inherited it) has an empty cmdline.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return !existsSync('/proc/self'); // no /proc (macOS): the liveness check is all there is
  }
}

/**
 * True while `pid` exists and is not yet a zombie. Asked once its cmdline reads empty, it tells an exit in progress
 * (the kernel releases a process's memory before its files, so it may still hold its sockets) from one that is
 * over. False for a zombie, a missing process, and where there is no /proc.
 */
export function pidExiting(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function onceExit(): { fire: ExitListener; add: (l: ExitListener) => void } {
  let done: [number | null, NodeJS.Signals | null] | undefined;
  const listeners: ExitListener[] = [];
  return {
    fire: (code, signal) => {
      if (done) return;
      done = [code, signal];
      for (const l of listeners.splice(0)) l(code, signal);
    },
    add: (l) => (done ? l(...done) : void listeners.push(l)),
  };
}

export function childWorker(child: ChildProcess): WorkerProcess {
  const exit = onceExit();
  child.once('exit', exit.fire);
  // A failed spawn emits 'error' and may never emit 'exit'; IPC errors after an exit are harmless.
  child.on('error', () => {
    if (child.pid === undefined) exit.fire(null, null);
  });
  return {
    pid: child.pid,
    kill: (signal) => child.exitCode === null && child.signalCode === null && child.kill(signal),
    onExit: exit.add,
    onMessage: (l) => void child.on('message', l),
    send: (m) => {
      if (!child.connected) return;
      try {
        child.send(m as object, () => undefined); // a failed send is reported to the callback, not thrown
      } catch {
        // the channel closed meanwhile
      }
    },
  };
}

/** Watches a process this supervisor did not spawn; its exit code is unknowable, so it is reported as null. */
export function adoptedWorker(pid: number, entry: string, pollMs = 200, runs: (pid: number, needle: string) => boolean = pidRuns): WorkerProcess {
  const exit = onceExit();
  const timer = setInterval(() => {
    if (runs(pid, entry)) return;
    clearInterval(timer);
    exit.fire(null, null);
  }, pollMs);
  return {
    pid,
    kill: (signal) => {
      if (!runs(pid, entry)) return false;
      try {
        return process.kill(pid, signal);
      } catch {
        return false;
      }
    },
    onExit: exit.add,
    onMessage: () => undefined,
    send: () => undefined,
  };
}
