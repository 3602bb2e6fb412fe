// `caracal audit …` (R-AUD-3, R-AUD-4, R-CLI): the real CLI against a real api, Postgres and Redis. Chains are
// seeded with the ledger's own append and signed heads, then tampered with as a database superuser five ways; the
// verifier must name zone, sequence and kind of each break and exit 1. Exports round-trip through Parquet and
// JSON Lines readers; the DLQ is listed and replayed; bad flags are usage errors naming the flag.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROW_COLUMNS, rowContentSha256, toLedgerRow } from '../../../../packages/ledger/dist/index.js';
import { STREAMS, toFields } from '../../../../packages/streams/dist/index.js';
import { deadLetter, eventAt, signedMessage, startAuditApi, type AuditApi } from '../../../../test-support/audit-fixtures.js';
import { caracal, tempHome, type CliResult } from '../../../../test-support/cli.js';

let s: AuditApi;
const home = tempHome('audit');
let env: Record<string, string> = {};
const zones: Record<string, string> = {};

const run = (args: string[]): Promise<CliResult> => caracal(args, env, { timeoutMs: 60_000 });
async function json<T = any>(args: string[], exitCode = 0): Promise<T> {
  const r = await run([...args, '--json']);
  expect(r.exitCode, r.stderr).toBe(exitCode);
  return JSON.parse(r.stdout) as T;
}
const dbRows = async (zoneId: string) =>
  (await s.superuser(`SELECT ${ROW_COLUMNS} FROM caracal.audit_events WHERE zone_id = $1 ORDER BY chain_seq`, [zoneId])).map(toLedgerRow);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  s = await startAuditApi('cliaudit');
  const tokenFile = join(home.dir, 'admin-token');
  writeFileSync(tokenFile, s.adminToken, { mode: 0o600 });
  env = { CARACAL_HOME: join(home.dir, 'h'), CARACAL_ADMIN_TOKEN_FILE: tokenFile };
  const init = await caracal(['init', '--yes', '--port', `api=${new URL(s.url).port}`], env);
  expect(init.exitCode, init.stderr).toBe(0);
  for (const slug of ['north', 'south']) {
    zones[slug] = await s.zone(slug);
    await s.seed(zones[slug]!, 6);
  }
});
afterAll(async () => {
  await s?.stop();
  home.remove();
});

describe('audit verify', () => {
  it('every zone intact: one OK line per zone, exit 0', async () => {
    const r = await run(['audit', 'verify']);
    expect(r.exitCode, r.stderr).toBe(0);
    // The platform zone (migration 0010) is listed first: its ledger is verified like any other.
    expect(r.stdout).toBe(`zone caracal-platform (00000000-0000-0000-0000-000000000000): 0 rows checked, head seq -: OK\nzone north (${zones.north}): 6 rows checked, head seq 6: OK\nzone south (${zones.south}): 6 rows checked, head seq 6: OK\nadmin chain: 2 rows checked, head seq 2: OK`);
    expect(r.stderr).toContain('verifying zone north');
    expect(r.stderr).toContain('verifying the admin chain');
    const j = await json(['audit', 'verify', '--zone', 'south']);
    expect(j).toMatchObject({ ok: true, zones: [{ slug: 'south', zone_id: zones.south, ok: true, checked: 6, last_seq: 6, breaks: [], published_head: { seq: 6 } }] });
  });

  // Each case tampers with a fresh zone of five rows whose head (seq 5) was published, as a superuser who can
  // write the table but does not hold the audit key.
  const cases: Array<[string, (zone: string) => Promise<unknown>, Array<[number, string]>]> = [
    ['one field of one row changed', (z) => s.superuser("UPDATE caracal.audit_events SET reason = 'x' WHERE zone_id = $1 AND chain_seq = 3", [z]), [[3, 'content_mismatch']]],
    ['a middle row deleted', (z) => s.superuser('DELETE FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq = 3', [z]), [[3, 'sequence_gap'], [4, 'chain_break']]],
    ['the newest rows deleted', (z) => s.superuser('DELETE FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq >= 4', [z]), [[4, 'truncated']]],
    [
      'two rows swapped',
      async (z) => {
        for (const [from, to] of [[2, 1000], [3, 2], [1000, 3]]) await s.superuser('UPDATE caracal.audit_events SET chain_seq = $3 WHERE zone_id = $1 AND chain_seq = $2', [z, from, to]);
      },
      [[2, 'chain_break'], [3, 'chain_break'], [4, 'chain_break']],
    ],
    [
      'a row changed and its content hash recomputed',
      async (z) => {
        const [row] = (await s.superuser(`SELECT ${ROW_COLUMNS} FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq = 3`, [z])).map(toLedgerRow);
        const forged = rowContentSha256({ ...row!, reason: 'forged' });
        await s.superuser("UPDATE caracal.audit_events SET reason = 'forged', content_sha256 = $2 WHERE zone_id = $1 AND chain_seq = 3", [z, forged]);
      },
      [[3, 'hmac_mismatch'], [4, 'chain_break']],
    ],
  ];

  it.each(cases)('%s: exit 1 naming zone, sequence and kind', async (name, tamper, expected) => {
    const slug = `t-${name.replace(/[^a-z]+/g, '-').slice(0, 40)}`.replace(/-+$/, '');
    const zone = await s.zone(slug);
    await s.seed(zone, 5);
    expect((await run(['audit', 'verify', '--zone', slug])).exitCode).toBe(0);
    await tamper(zone);

    const r = await run(['audit', 'verify', '--zone', slug]);
    expect(r.exitCode).toBe(1);
    const breakLines = r.stdout.split('\n').filter((l) => /\) seq \d+: /.test(l));
    expect(breakLines.map((l) => /^zone (\S+) \((\S+)\) seq (\d+): (\w+): /.exec(l)!.slice(1))).toEqual(expected.map(([seq, kind]) => [slug, zone, String(seq), kind]));
    expect(r.stdout).toMatch(new RegExp(`^zone ${slug} \\(${zone}\\): \\d rows checked, head seq \\d: FAILED \\(${expected.length} break\\(s\\)\\)$`, 'm'));

    const j = await json(['audit', 'verify', '--zone', zone], 1);
    expect(j.ok).toBe(false);
    expect(j.zones[0].breaks.map((b: any) => [b.zone_id, b.seq, b.kind])).toEqual(expected.map(([seq, kind]) => [zone, seq, kind]));
  });

  it('without --zone, one broken zone fails the run while the intact ones still print OK', async () => {
    const r = await run(['audit', 'verify']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(`zone north (${zones.north}): 6 rows checked, head seq 6: OK`);
    expect(r.stdout).toMatch(/^zone t-one-field-of-one-row-changed \(\S+\) seq 3: content_mismatch: /m);
  });

  it('an unknown zone exits 1 with the API’s words; a malformed one exits 2', async () => {
    const unknown = await run(['audit', 'verify', '--zone', 'nowhere']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain("404 not_found: zone 'nowhere' does not exist");
    const bad = await run(['audit', 'verify', '--zone', 'No Such!']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--zone must be a zone id or slug');
  });
});

describe('audit search', () => {
  it('prints a table and the next cursor on stderr; the cursor continues where the page ended', async () => {
    const first = await run(['audit', 'search', '--zone', 'north', '--limit', '4']);
    expect(first.exitCode, first.stderr).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+OCCURRED_AT\s+SOURCE\s+TYPE\s+DECISION\s+REASON\s+REQUEST_ID\s+EVENT_ID$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['1', '2', '3', '4']);
    const cursor = /^more rows: --cursor (\S+)$/m.exec(first.stderr)![1]!;
    const next = await json(['audit', 'search', '--zone', 'north', '--cursor', cursor]);
    expect(next.items.map((r: any) => r.chain_seq)).toEqual([5, 6]);
    expect(next.next_cursor).toBeNull();
  });

  it('filters by decision, request id, type and time', async () => {
    expect((await json(['audit', 'search', '--zone', 'north', '--decision', 'deny'])).items.map((r: any) => r.chain_seq)).toEqual([2, 4, 6]);
    expect((await json(['audit', 'search', '--zone', 'north', '--request-id', 'req-4'])).items.map((r: any) => r.chain_seq)).toEqual([5]);
    expect((await json(['audit', 'search', '--zone', 'north', '--type', 'token.issued'])).items).toHaveLength(3);
    const ranged = await json(['audit', 'search', '--zone', zones.north!, '--from', '2025-03-01T10:01:00Z', '--to', '2025-03-01T12:03:00+02:00']);
    expect(ranged.items.map((r: any) => r.chain_seq)).toEqual([2, 3]);
  });
});

describe('audit export', () => {
  const range = ['--from', '2025-03-01', '--to', '2025-03-02'];

  it('parquet round-trips: rows and content hashes as in the database, manifest hashes as on disk', async () => {
    const out = mkdtempSync(join(home.dir, 'pq-'));
    const r = await json(['audit', 'export', ...range, '--format', 'parquet', '--out', out, '--zone', 'north']);
    const base = `caracal-audit-${zones.north}-2025-03-01T000000Z-2025-03-02T000000Z`;
    expect(readdirSync(out).sort()).toEqual([`${base}.manifest.json`, `${base}.parquet`]);
    expect(r.exports[0]).toMatchObject({ slug: 'north', zone_id: zones.north, from: '2025-03-01T00:00:00.000Z', to: '2025-03-02T00:00:00.000Z', rows: 6, first_seq: 1, last_seq: 6 });

    const bytes = readFileSync(join(out, `${base}.parquet`));
    const manifest = JSON.parse(readFileSync(join(out, `${base}.manifest.json`), 'utf8'));
    expect(manifest.files).toEqual([{ name: `${base}.parquet`, sha256: sha256(bytes), bytes: bytes.length }]);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const read = await parquetReadObjects({ file });
    const db = await dbRows(zones.north!);
    expect(read).toHaveLength(db.length);
    read.forEach((row: any, i: number) => {
      const want = db[i]!;
      expect(Number(row.chain_seq)).toBe(want.chain_seq);
      for (const k of ['event_id', 'zone_id', 'occurred_at', 'recorded_at', 'source', 'event_type', 'decision', 'reason', 'request_id', 'content_sha256', 'prev_content_sha256', 'chain_hmac'] as const) expect(row[k]).toBe(want[k]);
      const data = typeof row.data === 'string' ? JSON.parse(row.data) : row.data;
      expect(rowContentSha256({ ...want, ...row, chain_seq: want.chain_seq, data })).toBe(want.content_sha256);
    });
  });

  it('jsonl round-trips for every zone when --zone is omitted; each row still hashes to its content_sha256', async () => {
    const out = join(mkdtempSync(join(home.dir, 'jl-')), 'nested', 'dir');
    const r = await json(['audit', 'export', ...range, '--format', 'jsonl', '--out', out]);
    expect(r.exports.map((e: any) => e.slug).slice(0, 3)).toEqual(['caracal-platform', 'north', 'south']);
    for (const slug of ['north', 'south']) {
      const e = r.exports.find((x: any) => x.slug === slug);
      const text = readFileSync(e.paths[0], 'utf8');
      const rows = text.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(rows).toEqual((await dbRows(zones[slug]!)).map((x) => ({ ...x })));
      for (const row of rows) expect(rowContentSha256(row)).toBe(row.content_sha256);
      expect(e.files[0].sha256).toBe(sha256(readFileSync(e.paths[0])));
    }
  });

  it('a second export to the same directory exits 1 naming the file and writes nothing', async () => {
    const out = mkdtempSync(join(home.dir, 'again-'));
    expect((await run(['audit', 'export', ...range, '--format', 'jsonl', '--out', out, '--zone', 'south'])).exitCode).toBe(0);
    const before = readdirSync(out).map((n) => [n, statSync(join(out, n)).mtimeMs, sha256(readFileSync(join(out, n)))]);
    // Every zone this time: north's files do not exist yet, yet nothing of north may be written either.
    const again = await run(['audit', 'export', ...range, '--format', 'jsonl', '--out', out]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain(`error: ${join(out, `caracal-audit-${zones.south}-2025-03-01T000000Z-2025-03-02T000000Z.jsonl`)} already exists; an export is never overwritten`);
    expect(readdirSync(out).map((n) => [n, statSync(join(out, n)).mtimeMs, sha256(readFileSync(join(out, n)))])).toEqual(before);
  });

  it('an empty range still writes a manifest saying so', async () => {
    const out = mkdtempSync(join(home.dir, 'empty-'));
    const r = await json(['audit', 'export', '--from', '2024-01-01', '--to', '2024-01-02', '--format', 'jsonl', '--out', out, '--zone', 'north']);
    expect(r.exports[0]).toMatchObject({ rows: 0, first_seq: null, last_seq: null });
  });
});

describe('audit dlq', () => {
  const ids: Record<string, string> = {};
  let valid: { data: string; sig: string };

  beforeAll(async () => {
    valid = signedMessage(s, eventAt(zones.north!, 40));
    ids.valid = await deadLetter(s, valid, 'max_deliveries_exceeded', '5 attempts failed');
    ids.noData = await deadLetter(s, { other: 'x' }, 'missing_data', 'the message has no data field');
  });

  it('lists entries with their reasons and never a signature', async () => {
    const r = await run(['audit', 'dlq', 'list']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${ids.valid}\\s+\\S+\\s+max_deliveries_exceeded\\s+1\\s+${zones.north}\\s+token.issued`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^${ids.noData}\\s+\\S+\\s+missing_data\\s+1\\s+-\\s+-\\s+-`, 'm'));
    const j = await json(['audit', 'dlq', 'list', '--limit', '1']);
    expect(j.items.map((i: any) => i.id)).toEqual([ids.valid]);
    expect(JSON.stringify(j)).not.toContain(valid.sig);
  });

  it('replay --id moves an entry back onto the audit stream', async () => {
    const r = await run(['audit', 'dlq', 'replay', '--id', ids.valid!]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe(`replayed ${ids.valid}`);
    const stream = await s.redis.xrange(s.keys.key(STREAMS.auditEvents), '-', '+');
    expect(toFields(stream.at(-1)![1])).toEqual(valid);
    expect((await s.redis.xrange(s.keys.key(STREAMS.auditDlq), '-', '+')).map(([id]) => id)).toEqual([ids.noData]);
  });

  it('replay --all skips what has no data and exits 1 saying why', async () => {
    const r = await run(['audit', 'dlq', 'replay', '--all', '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ replayed: [], skipped: [{ id: ids.noData, reason: 'missing_data' }] });
    expect(r.stderr).toContain('replayed 0, skipped 1');
  });
});

describe('bad flags', () => {
  const file = join(home.dir, 'a-file');
  beforeAll(() => writeFileSync(file, 'x'));
  const cases: Array<[string, () => string[], string]> = [
    ['--from not before --to', () => ['audit', 'export', '--from', '2025-03-02', '--to', '2025-03-01', '--format', 'jsonl', '--out', home.dir], '--from (2025-03-02T00:00:00.000Z) must be before --to (2025-03-01T00:00:00.000Z)'],
    ['--from equal to --to', () => ['audit', 'search', '--zone', 'north', '--from', '2025-03-01T10:00:00Z', '--to', '2025-03-01T12:00:00+02:00'], 'must be before --to'],
    ['an impossible date', () => ['audit', 'export', '--from', '2025-02-30', '--to', '2025-03-02', '--format', 'jsonl', '--out', home.dir], "option '--from <time>' argument '2025-02-30' is invalid. --from must be an ISO 8601 date"],
    ['a time without a zone', () => ['audit', 'search', '--zone', 'north', '--to', '2025-03-01T10:00:00'], '--to must be an ISO 8601 date'],
    ['an unknown format', () => ['audit', 'export', '--from', '2025-03-01', '--to', '2025-03-02', '--format', 'csv', '--out', home.dir], "option '--format <format>' argument 'csv' is invalid. Allowed choices are parquet, jsonl."],
    ['no --out', () => ['audit', 'export', '--from', '2025-03-01', '--to', '2025-03-02', '--format', 'jsonl'], "required option '--out <dir>' not specified"],
    ['an --out that is a file', () => ['audit', 'export', '--from', '2025-03-01', '--to', '2025-03-02', '--format', 'jsonl', '--out', file], `--out ${file} exists and is not a directory`],
    ['a search without --zone', () => ['audit', 'search'], "required option '--zone <zone>' not specified"],
    ['a --limit out of range', () => ['audit', 'search', '--zone', 'north', '--limit', '1001'], '--limit must be an integer from 1 to 1000'],
    ['an unknown --decision', () => ['audit', 'search', '--zone', 'north', '--decision', 'maybe'], "argument 'maybe' is invalid. Allowed choices are allow, deny."],
    ['a dlq --limit out of range', () => ['audit', 'dlq', 'list', '--limit', '501'], '--limit must be an integer from 1 to 500'],
    ['replay without --id or --all', () => ['audit', 'dlq', 'replay'], 'give exactly one of --id (repeatable) or --all'],
    ['replay with both', () => ['audit', 'dlq', 'replay', '--all', '--id', '1-0'], 'give exactly one of --id (repeatable) or --all'],
    ['a malformed --id', () => ['audit', 'dlq', 'replay', '--id', 'abc'], '--id must be a DLQ entry id'],
    ['an unknown dlq flag', () => ['audit', 'dlq', 'list', '--reason', 'x'], "unknown option '--reason'"],
  ];
  it.each(cases)('%s exits 2 naming the flag', async (_name, args, message) => {
    const r = await run(args());
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('every audit command documents its flags and the exit codes', async () => {
    for (const cmd of [['audit'], ['audit', 'verify'], ['audit', 'search'], ['audit', 'export'], ['audit', 'dlq'], ['audit', 'dlq', 'list'], ['audit', 'dlq', 'replay']]) {
      const r = await run([...cmd, '--help']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/Exit codes:\n\s+0\s+success\n\s+1\s+failure.*\n\s+2\s+usage error/);
    }
    expect((await run(['audit', 'export', '--help'])).stdout).toMatch(/--format <format>\s+file format \(choices: "parquet", "jsonl"\)/);
  });
});

describe('the admin chain (R-AUD-5)', () => {
  it('search --admin pages through the chain with the printed cursor', async () => {
    const first = await json(['audit', 'search', '--admin', '--limit', '2']);
    expect(first.items.map((r: any) => [r.seq, r.action])).toEqual([[1, 'zone.create'], [2, 'zone.create']]);
    expect(first.next_cursor).toEqual(expect.any(String));
    const table = await run(['audit', 'search', '--admin', '--limit', '2']);
    expect(table.stderr).toContain(`more rows: --cursor ${first.next_cursor}`);
    const second = await json(['audit', 'search', '--admin', '--limit', '2', '--cursor', first.next_cursor]);
    expect(second.items.map((r: any) => r.seq)).toEqual([3, 4]);
    const created = await json(['audit', 'search', '--admin', '--action', 'zone.create', '--limit', '1']);
    expect(created.items).toMatchObject([{ seq: 1, action: 'zone.create', target: `zone:${zones.north}`, detail: { slug: 'north' } }]);
  });

  it.each([
    [['audit', 'search', '--admin', '--type', 'token.issued'], '--type applies to zone ledgers, not to --admin'],
    [['audit', 'search', '--zone', 'north', '--action', 'zone.create'], '--action needs --admin'],
    [['audit', 'search'], "required option '--zone <zone>' not specified (or give --admin)"],
  ])('%j is a usage error', async (args, message) => {
    const r = await run(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('a tampered admin row fails verify (exit 1), named by seq and kind', async () => {
    await s.superuser("BEGIN; SET LOCAL session_replication_role = replica; UPDATE caracal.admin_audit_events SET target = 'zone:forged' WHERE seq = 2; COMMIT");
    const r = await run(['audit', 'verify']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^admin chain seq 2: content_mismatch: the row does not hash to its content_sha256$/m);
    expect(r.stdout).toMatch(/^admin chain: \d+ rows checked, head seq \d+: FAILED \(1 break\(s\)\)$/m);
    const j = await json(['audit', 'verify'], 1);
    expect(j.admin).toMatchObject({ ok: false, breaks: [{ seq: 2, kind: 'content_mismatch' }] });
  });
});
