// `runtime.json`: the installed version and when `up` last wrote it, for the operator (R-HOME-1).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface RuntimeInfo {
  version: string;
  updatedAt: string;
}

export function readRuntimeInfo(path: string): RuntimeInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<RuntimeInfo>;
    return typeof v.version === 'string' && typeof v.updatedAt === 'string' ? { version: v.version, updatedAt: v.updatedAt } : undefined;
  } catch {
    return undefined;
  }
}

export function writeJsonAtomic(path: string, value: unknown, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(tmp, path);
}

export function writeRuntimeInfo(path: string, version: string, now: Date = new Date()): void {
  writeJsonAtomic(path, { version, updatedAt: now.toISOString() } satisfies RuntimeInfo);
}
