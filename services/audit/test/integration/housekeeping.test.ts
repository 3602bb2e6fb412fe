// Retention and export (R-AUD-4), against real Postgres: complete hours exported to Parquet and JSON Lines that
// read back (with an independent Parquet reader) to the same rows and hashes, never exported twice; old monthly
// partitions dropped whole, with the chain anchored so verification still holds and tampering is still caught.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainKey, createPool, withZone, type Pool } from '../../../../packages/db/dist/index.js';
import { appendZoneBatch, canonicalEvent, publishHead, ROW_COLUMNS, rowContentSha256, signHead, toLedgerRow, verifyZone, type LedgerEvent } from '../../../../packages/ledger/dist/index.js';
import { adminQuery } from '../../../../test-support/db.js';
import { exportZone } from '../../src/ledger-ops/hourly-export.js';
import { applyRetention } from '../../src/ledger-ops/partitions.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness;
let pool: Pool;
let admin: Pool;
const dirs: string[] = [];
const HOUR = 3_600_000;

beforeAll(async () => {
  h = await createHarness('house');
  pool = createPool({ connectionString: h.db.roleUrl('audit'), applicationName: 'housekeeping-test' });
  const u = new URL(h.db.adminUrl);
  u.searchParams.set('options', '-c search_path=caracal');
  admin = createPool({ connectionString: u.toString(), applicationName: 'housekeeping-admin' });
});
afterAll(async () => {
  await pool.end();
  await admin.end();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await h.cleanup();
});

const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'caracal-export-'));
  dirs.push(d);
  return d;
};

function events(zone: string, n: number): LedgerEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const r = canonicalEvent(h.event(zone, { data: { i, nested: { b: [1, 'two', null], a: true } } }));
    if (!r.ok) throw new Error(r.detail);
    return r.event;
  });
}

const append = (p: Pool, zone: string, evs: LedgerEvent[], at: Date) => withZone(p, zone, (c) => appendZoneBatch(c, chainKey(h.hmacKey), zone, evs, at));
const dbRows = async (zone: string) => (await withZone(pool, zone, (c) => c.query(`SELECT ${ROW_COLUMNS} FROM audit_events WHERE zone_id = $1 ORDER BY chain_seq`, [zone]))).rows.map(toLedgerRow);
const listing = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${join(e.parentPath, e.name)}@${statSync(join(e.parentPath, e.name)).mtimeMs}`)
    .sort();

describe('hourly export', () => {
  it('writes complete hours as Parquet and JSON Lines that read back to the same rows and hashes, and never twice', async () => {
    const zone = await h.zone();
    // Three hours in the past; "now" is set half an hour into the third, so only the first two are complete.
    const base = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
    await append(pool, zone, events(zone, 30), new Date(base + 60_000));
    await append(pool, zone, events(zone, 20), new Date(base + HOUR + 60_000));
    await append(pool, zone, events(zone, 5), new Date(base + 2 * HOUR + 60_000));
    const now = new Date(base + 2 * HOUR + 30 * 60_000);
    const dir = tempDir();
    const o = { pool, dir, formats: ['parquet', 'jsonl'] as const, graceMs: 120_000 };
    expect(await exportZone(o, zone, now)).toBe(2);

    const rows = await dbRows(zone);
    const parquetFiles = listing(dir).filter((f) => f.includes('.parquet@')).map((f) => f.split('@')[0]!);
    expect(parquetFiles).toHaveLength(2);
    const fromParquet: any[] = [];
    for (const f of parquetFiles) {
      const buf = readFileSync(f);
      fromParquet.push(...(await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) })));
    }
    expect(fromParquet).toHaveLength(50);
    fromParquet.forEach((r, i) => {
      const db = rows[i]!;
      const read = { ...r, chain_seq: Number(r.chain_seq), data: typeof r.data === 'string' ? JSON.parse(r.data) : r.data };
      expect(read).toEqual(db);
      // The exported row alone re-derives its own content hash.
      expect(rowContentSha256(read)).toBe(r.content_sha256);
    });
    const jsonl = listing(dir).filter((f) => f.includes('.jsonl@')).map((f) => f.split('@')[0]!);
    const fromJsonl = jsonl.flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
    expect(fromJsonl).toEqual(rows.slice(0, 50));
    const manifests = listing(dir).filter((f) => f.includes('.manifest.json@')).map((f) => JSON.parse(readFileSync(f.split('@')[0]!, 'utf8')));
    expect(manifests.map((m) => [m.rows, m.first_seq, m.last_seq])).toEqual([[30, 1, 30], [20, 31, 50]]);

    const before = listing(dir);
    expect(await exportZone(o, zone, now)).toBe(0);
    expect(listing(dir).filter((f) => !f.includes('exported-through'))).toEqual(before.filter((f) => !f.includes('exported-through')));
    // An hour later the third hour is complete and only it is added.
    expect(await exportZone(o, zone, new Date(now.getTime() + HOUR))).toBe(1);
    expect(listing(dir).filter((f) => f.includes('.parquet@'))).toHaveLength(3);
  });
});

describe('recorded_at', () => {
  it('never goes back within a zone, whatever the appending clock says', async () => {
    const zone = await h.zone();
    const now = new Date();
    await append(pool, zone, events(zone, 2), now);
    await append(pool, zone, events(zone, 1), new Date(now.getTime() - HOUR)); // a replica whose clock is behind
    const rows = await dbRows(zone);
    expect(rows.map((r) => r.recorded_at)).toEqual([now.toISOString(), now.toISOString(), now.toISOString()]);
  });
});

describe('retention', () => {
  it('drops a month past retention whole, anchors the chain, and still catches tampering at the new start', async () => {
    const zone = await h.zone();
    const now = new Date();
    const old = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 15, 10));
    await adminQuery(h.db.adminUrl, 'SELECT caracal.audit_ensure_partition($1::date)', [old.toISOString().slice(0, 10)]);
    await append(admin, zone, events(zone, 5), old);
    await append(pool, zone, events(zone, 5), now);
    const name = `audit_events_${old.toISOString().slice(0, 7).replace('-', '_')}`;

    const key = chainKey(h.hmacKey);
    const publishAnchor = (z: string, seq: number, sha: string) => publishHead(h.redis, h.keys, signHead(key, { zone_id: z, seq, content_sha256: sha, published_at: now.toISOString() }, 'anchor'), 'anchor');
    const retention = (exportedThrough: Date | null | undefined) => applyRetention({ pool, now, keepMonths: 13, exportedThrough, zones: [zone], publishAnchor });
    // Not while export is on and the month is not exported yet.
    expect((await retention(null)).kept.map((k) => k.partition)).toContain(name);
    const plan = await retention(undefined);
    expect(plan.dropped).toContain(name);
    const anchors = await adminQuery(h.db.adminUrl, 'SELECT through_seq, partition_name FROM caracal.audit_chain_anchors WHERE zone_id = $1', [zone]);
    expect(anchors.rows).toEqual([{ through_seq: '5', partition_name: name }]);

    const deps = { pool, redis: h.redis, keys: h.keys, key };
    expect(await verifyZone(deps, zone)).toMatchObject({ ok: true, checked: 5, first_seq: 6, anchor: { through_seq: 5 } });
    await adminQuery(h.db.adminUrl, 'DELETE FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq = 6', [zone]);
    expect((await verifyZone(deps, zone)).breaks.map((b) => [b.seq, b.kind])).toEqual([[6, 'sequence_gap'], [7, 'chain_break']]);
    // Hiding that deletion with a forged anchor row is caught: the database anchor no longer matches the signed mark.
    const forge = new pg.Client({ connectionString: h.db.adminUrl });
    await forge.connect();
    try {
      await forge.query("SELECT set_config('caracal.zone_id', $1, false)", [zone]);
      const prev = await forge.query<{ prev: string }>('SELECT prev_content_sha256 AS prev FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq = 7', [zone]);
      await forge.query("INSERT INTO caracal.audit_chain_anchors (zone_id, through_seq, content_sha256, partition_name) VALUES ($1, 6, $2, 'forged')", [zone, prev.rows[0]!.prev]);
    } finally {
      await forge.end();
    }
    expect((await verifyZone(deps, zone)).breaks.map((b) => [b.seq, b.kind])).toEqual([[7, 'anchor_unsigned']]);
  });

  it('creating a month whose rows already sit in the default partition moves them into it, chain intact', async () => {
    const zone = await h.zone();
    const now = new Date();
    const later = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 6, 15));
    await append(pool, zone, events(zone, 3), now);
    await append(admin, zone, events(zone, 4), later); // no partition that far ahead: the rows land in the default
    const inDefault = async () => Number((await adminQuery<{ n: string }>(h.db.adminUrl, 'SELECT count(*) AS n FROM caracal.audit_events_default WHERE zone_id = $1', [zone])).rows[0]!.n);
    expect(await inDefault()).toBe(4);
    const name = (await pool.query<{ name: string }>('SELECT caracal.audit_ensure_partition($1::date) AS name', [later.toISOString().slice(0, 10)])).rows[0]!.name;
    expect(await inDefault()).toBe(0);
    expect(Number((await adminQuery<{ n: string }>(h.db.adminUrl, `SELECT count(*) AS n FROM caracal.${name} WHERE zone_id = $1`, [zone])).rows[0]!.n)).toBe(4);
    expect(await verifyZone({ pool, redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey) }, zone)).toMatchObject({ ok: true, checked: 7 });
  });

  it('the database refuses to drop a month inside the retention period, even when asked', async () => {
    const month = new Date().toISOString().slice(0, 10);
    await expect(pool.query('SELECT caracal.audit_drop_partition($1::date, 1)', [month])).rejects.toThrow(/inside the retention period/);
    await expect(pool.query('SELECT caracal.audit_drop_partition($1::date, 0)', [month])).rejects.toThrow(/at least one whole month/);
    // The audit role cannot lower retention below the floor the migration owner set (12 months).
    const fiveMonthsAgo = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 5, 1)).toISOString().slice(0, 10);
    await expect(pool.query('SELECT caracal.audit_drop_partition($1::date, 1)', [fiveMonthsAgo])).rejects.toThrow(/inside the retention period/);
    await expect(pool.query('UPDATE caracal.audit_retention_floor SET min_keep_months = 1')).rejects.toThrow(/permission denied/);
    await expect(pool.query('DELETE FROM caracal.audit_events')).rejects.toThrow(/permission denied/);
  });
});
