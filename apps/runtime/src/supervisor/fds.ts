// The listening sockets the supervisor holds (one per service, inherited as plain fds: it never accepts on them)
// and how they are laid out for a worker and for a successor supervisor.
import type { StdioOptions } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { SERVICE_NAMES, type ServiceName } from '@caracal/db';

export type ServiceFds = Record<ServiceName, number>;

/** The fd a worker finds its service's listening socket on: announced to it as CARACAL_LISTEN_FD. */
export const WORKER_LISTEN_FD = 4;

export function formatFds(fds: ServiceFds): string {
  return SERVICE_NAMES.map((s) => `${s}:${fds[s]}`).join(',');
}

/** Parses `CARACAL_SUPERVISOR_FDS` (`api:3,coordinator:4,…`): every service once, each fd an open socket. */
export function parseFds(value: string | undefined): ServiceFds {
  if (!value) throw new Error('CARACAL_SUPERVISOR_FDS is not set: the supervisor is started by `caracal up`');
  const fds: Partial<ServiceFds> = {};
  for (const part of value.split(',')) {
    const m = /^([a-z]+):(\d+)$/.exec(part);
    const name = m?.[1] as ServiceName | undefined;
    if (!m || !name || !SERVICE_NAMES.includes(name) || name in fds) throw new Error(`CARACAL_SUPERVISOR_FDS: bad entry ${JSON.stringify(part)}`);
    const fd = Number(m[2]);
    let socket = false;
    try {
      socket = fd >= 3 && fstatSync(fd).isSocket();
    } catch {
      socket = false;
    }
    if (!socket) throw new Error(`CARACAL_SUPERVISOR_FDS: fd ${fd} (${name}) is not an open socket`);
    fds[name] = fd;
  }
  const missing = SERVICE_NAMES.filter((s) => !(s in fds));
  if (missing.length > 0) throw new Error(`CARACAL_SUPERVISOR_FDS: no fd for ${missing.join(', ')}`);
  return fds as ServiceFds;
}

/**
 * A worker's stdio: its log on 1 and 2, the IPC channel on 3, its service's socket on 4. The supervisor's
 * inherited fds are not close-on-exec, so every index up to the highest of them is filled too (with the worker's
 * own socket): otherwise the worker would inherit, and keep open, the other services' sockets.
 */
export function workerStdio(fds: ServiceFds, service: ServiceName, log: number): StdioOptions {
  const own = fds[service];
  const top = Math.max(...Object.values(fds));
  const pad = Array.from({ length: Math.max(0, top - WORKER_LISTEN_FD) }, () => own);
  return ['ignore', log, log, 'ipc', own, ...pad];
}

/** A successor supervisor's stdio: the same output, every socket on the same fd, the IPC channel after them. */
export function successorStdio(fds: ServiceFds): StdioOptions {
  const top = Math.max(...Object.values(fds));
  const stdio: StdioOptions = ['ignore', 1, 2];
  for (let fd = 3; fd <= top; fd++) stdio.push(Object.values(fds).includes(fd) ? fd : 'ignore');
  stdio.push('ipc');
  return stdio;
}
