// `runtime.json`: the running version, its install root, and when it was last written (R-HOME-1). `root` is where
// that version's services and supervisor live: the CLI's own tree, or a staged `versions/<v>` after an upgrade.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface RuntimeInfo {
  version: string;
  updatedAt: string;
  root?: string;
}

export function readRuntimeInfo(path: string): RuntimeInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<RuntimeInfo>;
    if (typeof v.version !== 'string' || typeof v.updatedAt !== 'string') return undefined;
    return { version: v.version, updatedAt: v.updatedAt, ...(typeof v.root === 'string' ? { root: v.root } : {}) };
  } catch {
    return undefined;
  }
}

export function writeJsonAtomic(path: string, value: unknown, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(tmp, path);
}

export function writeRuntimeInfo(path: string, version: string, root?: string, now: Date = new Date()): void {
  writeJsonAtomic(path, { version, updatedAt: now.toISOString(), ...(root ? { root } : {}) } satisfies RuntimeInfo);
}
