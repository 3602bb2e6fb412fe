// `caracal audit export`: a time range of each zone's ledger written to Parquet or JSON Lines with a manifest of
// SHA-256s (R-AUD-4). An export is never overwritten: when any target file exists, nothing is written at all.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ExportExists, writeExport, type ExportFormat, type ExportManifest, type LedgerRow } from '@caracal/ledger';
import { adminApi } from '../../admin/client.js';
import { printable } from '../../admin/render.js';
import { CliError, UsageError } from '../../errors.js';
import type { Io } from '../io.js';
import { checkRange } from './audit-flags.js';
import { fetchEventPage } from './audit-search.js';
import { zonesFor } from './audit-verify.js';

export interface ExportOptions {
  from: string;
  to: string;
  format: ExportFormat;
  out: string;
  zone?: string;
}

export interface ZoneExport extends ExportManifest {
  slug: string;
  paths: string[];
}

export interface ExportResult {
  out: string;
  exports: ZoneExport[];
}

const PAGE = 1000;

/** `2025-03-01T10:00:00.000Z` → `2025-03-01T100000Z`: no colons, which some filesystems and tools refuse. */
export const fileTime = (iso: string) => iso.replace(/\.000Z$/, 'Z').replace(/:/g, '');

export const exportBase = (zoneId: string, from: string, to: string) => `caracal-audit-${zoneId}-${fileTime(from)}-${fileTime(to)}`;

const targets = (dir: string, base: string, format: ExportFormat) => [join(dir, `${base}.${format}`), join(dir, `${base}.manifest.json`)];

function checkOut(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--out ${dir} exists and is not a directory`);
}

export async function runAuditExport(opts: ExportOptions, io: Io): Promise<ExportResult> {
  checkRange(opts.from, opts.to);
  const dir = resolve(opts.out);
  checkOut(dir);
  if (Date.parse(opts.to) > Date.now()) io.out.warn(`--to ${opts.to} is in the future: events of this range may still arrive after the export`);
  const api = adminApi(io);
  const zones = await zonesFor(api, opts.zone);
  // Every zone's files are checked before anything is fetched or written: a repeated export changes nothing.
  const clash = zones.flatMap((z) => targets(dir, exportBase(z.id, opts.from, opts.to), opts.format)).find((p) => existsSync(p));
  if (clash) throw new CliError(`${clash} already exists; an export is never overwritten`, 1, 'choose another --out directory or range');
  const result: ExportResult = { out: dir, exports: [] };
  for (const zone of zones) {
    const rows = await io.out.step(`reading zone ${printable(zone.slug)}`, async () => {
      const all: LedgerRow[] = [];
      let cursor: string | undefined;
      do {
        const page = await fetchEventPage(api, zone.id, { from: opts.from, to: opts.to }, PAGE, cursor);
        all.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      return all;
    });
    const base = exportBase(zone.id, opts.from, opts.to);
    const manifest = write(dir, base, { zone_id: zone.id, from: opts.from, to: opts.to }, rows, opts.format);
    result.exports.push({ slug: zone.slug, ...manifest, paths: targets(dir, base, opts.format) });
  }
  if (zones.length === 0) io.out.info('no zones to export');
  return result;
}

function write(dir: string, base: string, meta: Pick<ExportManifest, 'zone_id' | 'from' | 'to'>, rows: LedgerRow[], format: ExportFormat): ExportManifest {
  try {
    return writeExport(dir, base, meta, rows, [format]);
  } catch (err) {
    if (err instanceof ExportExists) throw new CliError(err.message);
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot write the export to --out ${dir}: ${e.code ?? e.message}`);
  }
}

export function printExport(r: ExportResult, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(r);
  const lines = r.exports.map((e) => `zone ${printable(e.slug)} (${e.zone_id}): ${e.rows} rows, seq ${e.first_seq ?? '-'}..${e.last_seq ?? '-'} → ${e.paths.join(', ')}`);
  if (lines.length > 0) io.out.data(lines.join('\n'));
}
