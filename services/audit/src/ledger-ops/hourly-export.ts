// Hourly export (R-AUD-4): each zone's complete hours (by recorded_at) written as Parquet and/or JSON Lines with
// their chain columns and a manifest of SHA-256s, under <dir>/zone=<id>/<YYYY-MM-DD>/<HH>-<part>.*. A per-zone
// cursor file records the hour exported through, so an hour is never exported twice; a part whose manifest is
// missing (a crash mid-write) is rewritten, a complete one is kept.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { withZone, type Pool } from '@caracal/db';
import { ROW_COLUMNS, toLedgerRow, writeDurably, writeExport, type ExportFormat, type LedgerRow } from '@caracal/ledger';

const HOUR = 3_600_000;
export const PART_ROWS = 50_000;

export interface HourlyExportOptions {
  pool: Pool;
  dir: string;
  formats: readonly ExportFormat[];
  graceMs: number;
}

const floorHour = (t: number) => Math.floor(t / HOUR) * HOUR;
const cursorFile = (dir: string, zone: string) => join(dir, `zone=${zone}`, 'exported-through');

export function readCursor(dir: string, zone: string): Date | null {
  const f = cursorFile(dir, zone);
  if (!existsSync(f)) return null;
  const t = Date.parse(readFileSync(f, 'utf8').trim());
  if (!Number.isFinite(t)) throw new Error(`${f} does not hold a time`);
  return new Date(t);
}

/** The earliest hour not yet exported across zones (null when a zone has never been visited). */
export function exportedThrough(dir: string, zones: readonly string[]): Date | null {
  let min: Date | null = null;
  for (const z of zones) {
    const c = readCursor(dir, z);
    if (!c) return null;
    if (!min || c < min) min = c;
  }
  return min;
}

async function nextRowTime(pool: Pool, zone: string, from: Date, before: Date): Promise<Date | null> {
  const res = await withZone(pool, zone, (c) =>
    c.query<{ t: Date | null }>('SELECT min(recorded_at) AS t FROM audit_events WHERE zone_id = $1 AND recorded_at >= $2 AND recorded_at < $3', [zone, from, before]),
  );
  return res.rows[0]?.t ?? null;
}

async function hourPart(pool: Pool, zone: string, hour: Date, afterSeq: number): Promise<LedgerRow[]> {
  const res = await withZone(pool, zone, (c) =>
    c.query(
      `SELECT ${ROW_COLUMNS} FROM audit_events
        WHERE zone_id = $1 AND recorded_at >= $2 AND recorded_at < $3 AND chain_seq > $4
        ORDER BY chain_seq LIMIT ${PART_ROWS}`,
      [zone, hour, new Date(hour.getTime() + HOUR), afterSeq],
    ),
  );
  return res.rows.map(toLedgerRow);
}

/** Writes one zone's hour in parts; returns the number of parts written now. */
async function exportHour(o: HourlyExportOptions, zone: string, hour: Date): Promise<number> {
  const iso = hour.toISOString();
  const dir = join(o.dir, `zone=${zone}`, iso.slice(0, 10));
  let written = 0;
  let after = 0;
  for (let part = 1; ; part++) {
    const rows = await hourPart(o.pool, zone, hour, after);
    if (rows.length === 0) break;
    const base = `${iso.slice(11, 13)}-${String(part).padStart(4, '0')}`;
    if (!existsSync(join(dir, `${base}.manifest.json`))) {
      for (const f of o.formats) rmSync(join(dir, `${base}.${f}`), { force: true });
      writeExport(dir, base, { zone_id: zone, from: iso, to: new Date(hour.getTime() + HOUR).toISOString() }, rows, o.formats);
      written++;
    }
    after = rows.at(-1)!.chain_seq;
    if (rows.length < PART_ROWS) break;
  }
  return written;
}

/** Exports every complete hour of one zone after its cursor; returns the hours exported. */
export async function exportZone(o: HourlyExportOptions, zone: string, now: Date): Promise<number> {
  const complete = new Date(floorHour(now.getTime() - o.graceMs));
  let from = readCursor(o.dir, zone) ?? new Date(0);
  let hours = 0;
  mkdirSync(join(o.dir, `zone=${zone}`), { recursive: true, mode: 0o750 });
  for (;;) {
    const next = await nextRowTime(o.pool, zone, from, complete);
    if (!next) break;
    const hour = new Date(floorHour(next.getTime()));
    await exportHour(o, zone, hour);
    hours++;
    from = new Date(hour.getTime() + HOUR);
    // Rename over the old cursor: it moves atomically, after the hour's files are durable.
    writeDurably(cursorFile(o.dir, zone), Buffer.from(from.toISOString()), { replace: true });
  }
  if (from < complete) writeDurably(cursorFile(o.dir, zone), Buffer.from(complete.toISOString()), { replace: true });
  return hours;
}
