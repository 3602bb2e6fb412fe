// Reads the migration directory: names, order, checksums and phase headers (R-MIG-1).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
  path: string;
  sql: string;
  sha256: string;
  phase: 'expand' | 'contract';
}

export class MigrationFileError extends Error {
  readonly code = 'CARACAL_MIGRATION_FILE';
}

const NAME = /^(\d{4})_([a-z]+)_([a-z0-9_]+)\.up\.sql$/;
const ANY_SQL = /\.sql$/;
const DOWN = /^\d{4}_[a-z]+_[a-z0-9_]+\.down\.sql$/;
export const CONTRACT_HEADER = /^--\s*caracal:phase\s+contract\s*$/;

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The phase comes from the header: the leading comment lines of the file. */
export function phaseOf(sql: string): 'expand' | 'contract' {
  for (const line of sql.split(/\r?\n/)) {
    const t = line.trim();
    if (t === '') continue;
    if (!t.startsWith('--')) break;
    if (CONTRACT_HEADER.test(t)) return 'contract';
  }
  return 'expand';
}

export function loadMigrations(dir: string): MigrationFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new MigrationFileError(`migrations directory ${dir} cannot be read`);
  }
  const wanted = names.filter((file) => ANY_SQL.test(file) && !DOWN.test(file));
  return parseMigrations(wanted.map((file) => ({ file, path: join(dir, file), data: readFileSync(join(dir, file)) })));
}

/**
 * The same rules as `loadMigrations`, for files that are not (yet) on disk, e.g. read out of a release archive
 * before it is unpacked. `.down.sql` files and anything not ending in `.sql` are ignored.
 */
export function parseMigrations(entries: ReadonlyArray<{ file: string; path: string; data: Buffer }>): MigrationFile[] {
  const out: MigrationFile[] = [];
  const seen = new Map<number, string>();
  for (const { file, path, data } of [...entries].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) {
    if (!ANY_SQL.test(file) || DOWN.test(file)) continue;
    const m = NAME.exec(file);
    if (!m) throw new MigrationFileError(`${file}: name must be NNNN_<verb>_<object>.up.sql`);
    const version = Number(m[1]);
    const clash = seen.get(version);
    if (clash) throw new MigrationFileError(`${file}: version ${m[1]} is also used by ${clash}`);
    seen.set(version, file);
    const sql = data.toString('utf8');
    out.push({ version, name: file.replace(/\.up\.sql$/, ''), file, path, sql, sha256: sha256Hex(data), phase: phaseOf(sql) });
  }
  return out;
}
