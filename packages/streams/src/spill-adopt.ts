// Adopts spill files left by processes that died (R-AUD-1): each is renamed into this process's name (an atomic
// claim, so two starting processes never both take one) and queued for replay. Files of live processes are left
// alone; a file with this process's own pid but older than the process is a previous incarnation's (pid reuse,
// e.g. in containers) and is adopted.
import { join } from 'node:path';
import type { SpillFiles } from './spill-files.js';
import { LineCounter } from './spill-lines.js';
import { byStart, parseSpillFileName } from './spill-names.js';
import type { SpillTarget } from './spill-replay.js';

export interface AdoptOptions {
  dir: string;
  files: SpillFiles;
  pid: number;
  /** When this process started (ms since the epoch). */
  startedAtMs: number;
  /** A fresh path in `dir` owned by this process. */
  claimPath: () => string;
  log: (level: 'info' | 'warn', msg: string, detail: Record<string, unknown>) => void;
}

/** Clocks drift a little between a process's start and its first file; older than this margin is another life. */
const SAME_LIFE_MARGIN_MS = 1000;

export async function adoptDeadSpills(opts: AdoptOptions): Promise<SpillTarget[]> {
  const { dir, files } = opts;
  let names: string[];
  try {
    names = await files.list(dir);
  } catch (err) {
    opts.log('warn', 'audit spill directory cannot be listed; nothing adopted', { dir, error: (err as NodeJS.ErrnoException).code });
    return [];
  }
  const adopted: SpillTarget[] = [];
  for (const name of names.sort(byStart)) {
    const owner = parseSpillFileName(name);
    if (!owner || !ownerIsGone(owner, opts)) continue;
    const path = opts.claimPath();
    try {
      await files.rename(join(dir, name), path);
      await files.syncDir(dir);
    } catch (err) {
      // ENOENT: another process claimed it first.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.log('warn', 'audit spill file cannot be adopted', { file: name, error: (err as NodeJS.ErrnoException).code });
      continue;
    }
    const size = await files.size(path);
    const target = { path, offset: 0, size, pending: await countLines(files, path, size) };
    adopted.push(target);
    opts.log('info', 'adopted the audit spill file of a process that is gone', { file: name, adopted_as: path, owner_pid: owner.pid, events: target.pending });
  }
  return adopted;
}

function ownerIsGone(owner: { pid: number; startMs: number }, opts: AdoptOptions): boolean {
  if (owner.pid === opts.pid) return owner.startMs < opts.startedAtMs - SAME_LIFE_MARGIN_MS;
  return !opts.files.alive(owner.pid);
}

async function countLines(files: SpillFiles, path: string, size: number): Promise<number> {
  const counter = new LineCounter();
  const chunk = 1024 * 1024;
  for (let offset = 0; offset < size; offset += chunk) {
    const buf = await files.read(path, offset, Math.min(chunk, size - offset));
    if (buf.length === 0) break;
    counter.add(buf);
  }
  return counter.count;
}
