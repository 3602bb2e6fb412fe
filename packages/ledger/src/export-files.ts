// Ledger exports (R-AUD-4): one zone's rows of a time range as Parquet and/or JSON Lines, each row with its chain
// columns, plus a manifest with every file's SHA-256. Files are written to a temporary name, fsynced and renamed,
// and an existing export is never overwritten: a range is exported once.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { canonicalJson } from './canonical-json.js';
import type { LedgerRow } from './columns.js';

export type ExportFormat = 'parquet' | 'jsonl';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['parquet', 'jsonl'];

export interface ExportManifest {
  zone_id: string;
  from: string;
  to: string;
  rows: number;
  first_seq: number | null;
  last_seq: number | null;
  last_content_sha256: string | null;
  files: Array<{ name: string; sha256: string; bytes: number }>;
}

const TEXT_COLUMNS = ['event_id', 'zone_id', 'occurred_at', 'recorded_at', 'source', 'event_type', 'decision', 'reason', 'request_id', 'application_id', 'resource', 'subject'] as const;
const HASH_COLUMNS = ['content_sha256', 'prev_content_sha256', 'chain_hmac'] as const;

export function parquetBytes(rows: readonly LedgerRow[]): Uint8Array {
  const buf = parquetWriteBuffer({
    columnData: [
      ...TEXT_COLUMNS.map((name) => ({ name, data: rows.map((r) => r[name]), type: 'STRING' as const })),
      { name: 'chain_seq', data: rows.map((r) => BigInt(r.chain_seq)), type: 'INT64' as const, nullable: false },
      { name: 'data', data: rows.map((r) => canonicalJson(r.data)), type: 'JSON' as const, nullable: false },
      ...HASH_COLUMNS.map((name) => ({ name, data: rows.map((r) => r[name]), type: 'STRING' as const, nullable: false })),
    ],
    createdBy: 'caracal audit export',
  });
  return new Uint8Array(buf);
}

export function jsonlBytes(rows: readonly LedgerRow[]): Uint8Array {
  return Buffer.from(rows.map((r) => `${JSON.stringify({ ...r, data: JSON.parse(canonicalJson(r.data)) })}\n`).join(''), 'utf8');
}

/**
 * Writes `bytes` to `path` durably: exclusive temp file, fsync, then into place and an fsync of the directory.
 * Without `replace` the file is linked into place, which fails if `path` exists: two writers can never overwrite
 * one another's export.
 */
export function writeDurably(path: string, bytes: Uint8Array, opts: { mode?: number; replace?: boolean } = {}): void {
  const mode = opts.mode ?? 0o640;
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  if (opts.replace) renameSync(tmp, path);
  else {
    try {
      linkSync(tmp, path);
    } finally {
      unlinkSync(tmp);
    }
  }
  syncDir(join(path, '..'));
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class ExportExists extends Error {}

/**
 * Writes `<base>.<format>` for each format and `<base>.manifest.json` into `dir`. Refuses before writing anything
 * when any of them exists. The manifest is written last: its presence marks a complete export.
 */
export function writeExport(dir: string, base: string, meta: Pick<ExportManifest, 'zone_id' | 'from' | 'to'>, rows: readonly LedgerRow[], formats: readonly ExportFormat[]): ExportManifest {
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const names = [...formats.map((f) => `${base}.${f}`), `${base}.manifest.json`];
  const clash = names.find((n) => existsSync(join(dir, n)));
  if (clash) throw new ExportExists(`${join(dir, clash)} already exists; an export is never overwritten`);
  const files: ExportManifest['files'] = [];
  for (const f of formats) {
    const bytes = f === 'parquet' ? parquetBytes(rows) : jsonlBytes(rows);
    try {
      writeDurably(join(dir, `${base}.${f}`), bytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ExportExists(`${join(dir, `${base}.${f}`)} already exists; an export is never overwritten`);
      throw err;
    }
    files.push({ name: `${base}.${f}`, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
  }
  const last = rows.at(-1);
  const manifest: ExportManifest = {
    ...meta,
    rows: rows.length,
    first_seq: rows[0]?.chain_seq ?? null,
    last_seq: last?.chain_seq ?? null,
    last_content_sha256: last?.content_sha256 ?? null,
    files,
  };
  writeDurably(join(dir, `${base}.manifest.json`), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  return manifest;
}
