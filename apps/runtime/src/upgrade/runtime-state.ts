// runtime.json as an upgrade reads and writes it: `{version, updatedAt, root?}`, where `root` is the install root of
// the running version. The upgrade trusts nothing it cannot parse: a corrupt file stops it, naming the file.
import { readFileSync } from 'node:fs';
import { CliError } from '../errors.js';
import { writeJsonAtomic } from '../home/runtime-json.js';
import { isVersion } from './versions.js';

export interface RuntimeRecord {
  version: string;
  updatedAt: string;
  root?: string;
}

export function readRuntimeRecord(path: string): RuntimeRecord {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT' ? `${path} is missing: the stack has never come up, so there is no running version to upgrade` : `cannot read ${path}: ${code ?? 'error'}`,
      1,
      code === 'ENOENT' ? 'start the stack with `caracal up` first' : undefined,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt(path, 'is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(path, 'is not a JSON object');
  const v = value as Record<string, unknown>;
  if (typeof v.version !== 'string' || !isVersion(v.version)) throw corrupt(path, `has no valid "version" (${JSON.stringify(v.version)})`);
  if (typeof v.updatedAt !== 'string' || Number.isNaN(Date.parse(v.updatedAt))) throw corrupt(path, 'has no valid "updatedAt"');
  if (v.root !== undefined && (typeof v.root !== 'string' || !v.root.startsWith('/'))) throw corrupt(path, 'has a "root" that is not an absolute path');
  return { version: v.version, updatedAt: v.updatedAt, ...(typeof v.root === 'string' ? { root: v.root } : {}) };
}

function corrupt(path: string, why: string): CliError {
  return new CliError(`${path} ${why}; the running version cannot be known, nothing was changed`, 1, 'restore it, or run `caracal up` to rewrite it');
}

export function writeRuntimeRecord(path: string, version: string, root: string, now: Date = new Date()): void {
  writeJsonAtomic(path, { version, updatedAt: now.toISOString(), root } satisfies RuntimeRecord);
}
