// The adoption file a supervisor writes for its successor: its state, from which the successor takes over every
// worker it finds still running the recorded program. Both versions read it, so its shape only grows.
import { readFileSync, rmSync } from 'node:fs';
import { SERVICE_NAMES } from '@caracal/db';
import { writeJsonAtomic } from '../home/runtime-json.js';
import type { SupervisorState } from './state.js';
import type { AdoptedService, LaunchSpec } from './supervisor.js';
import type { WorkerProcess } from './worker-process.js';

const FORMAT = 1;

export function writeAdoption(path: string, state: SupervisorState): void {
  writeJsonAtomic(path, { format: FORMAT, state });
}

export function removeAdoption(path: string): void {
  rmSync(path, { force: true });
}

/**
 * Reads (and removes) the adoption file. `spec` gives a service's launch spec from its recorded root and version
 * (or why it cannot); `watch` a process to follow in place of a worker, when its PID still runs that entry.
 */
export function readAdoption(
  path: string,
  spec: (service: string, root: string, version: string) => LaunchSpec | string,
  watch: (pid: number, entry: string) => WorkerProcess | undefined,
): AdoptedService[] {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown; state?: SupervisorState };
  removeAdoption(path);
  if (doc.format !== FORMAT || !doc.state?.services) throw new Error(`${path}: not an adoption file of format ${FORMAT}`);
  return SERVICE_NAMES.map((name) => {
    const st = doc.state!.services[name];
    if (!st) throw new Error(`${path}: no state for ${name}`);
    const s = spec(name, st.root, st.version);
    if (typeof s === 'string') throw new Error(`${path}: ${name}: ${s}`);
    return {
      spec: s,
      desired: st.desired,
      restarts: st.restarts,
      lastExit: st.lastExit,
      workers: st.workers.map((w) => ({ state: w, process: w.pid ? watch(w.pid, s.entry) : undefined })),
    };
  });
}
