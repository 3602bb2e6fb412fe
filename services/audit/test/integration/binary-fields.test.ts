// The chain columns verification reads in binary (packages/ledger binary-fields.ts) render exactly as the server
// renders them as text: timestamps as to_char(… AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') over the whole
// timestamptz range (BC years, years past 9999, ±infinity as NULL, milliseconds truncated, times before 1970 and
// 2000), UUIDs as uuid::text and int8 as their number. The content hash covers this text, so one character apart
// would break every chain.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTuples, int8At, TimestampText, uuidText, type Tuple } from '../../../../packages/ledger/dist/index.js';
import { createTestDatabase, type TestDatabase } from '../../../../test-support/db.js';

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('binfields');
  client = new pg.Client({ connectionString: db.adminUrl });
  await client.connect();
  await client.query("SET TimeZone = 'America/St_Johns'");
});
afterAll(async () => {
  await client.end();
  await db.drop();
});

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const text = (t: Tuple, f: number) => (t.lens[f]! < 0 ? null : t.buf.toString('utf8', t.starts[f], t.starts[f]! + t.lens[f]!));

/** Each value of `values` (SQL) as [binary rendered here, server's text], one COPY. */
async function pairs(values: string, binary: string, server: string, render: (t: Tuple) => string | null): Promise<Array<[string | null, string | null]>> {
  const out: Array<[string | null, string | null]> = [];
  await copyTuples(client, `SELECT ${binary}, ${server} FROM (${values}) AS v(x)`, 2, (t) => out.push([render(t), text(t, 1)]));
  return out;
}

describe('binary chain columns render as the server renders them', () => {
  it('timestamps: chosen edges and 20,000 spread over the whole range', async () => {
    const edges = [
      'infinity', '-infinity', '2000-01-01 00:00:00+00', '1999-12-31 23:59:59.999999+00', '1970-01-01 00:00:00+00', '1969-12-31 23:59:59.0005+00',
      '2026-12-04 13:59:59.9999+00', '2024-02-29 12:00:00.001+00', '2100-02-28 23:59:59.5+00', '9999-12-31 23:59:59.999999+00', '10000-01-01 00:00:00+00',
      '294276-12-31 23:59:59.999999+00', '0001-01-01 00:00:00+00', '0001-12-31 23:59:59.999+00 BC', '0005-06-07 01:02:03.004+00 BC', '4713-01-01 00:00:00+00 BC',
    ].map((v) => `SELECT '${v}'::timestamptz`);
    // Microsecond counts spread evenly (with odd steps) from 4713 BC to 294276 AD, negative and positive.
    const spread = `SELECT '4713-01-01 00:00:00+00 BC'::timestamptz + (g * interval '5437 days 01:23:45.678901') FROM generate_series(0, 20100) g WHERE g * 5437 < 109203000`;
    const render = new TimestampText();
    const got = await pairs(`${edges.join(' UNION ALL ')} UNION ALL ${spread}`, 'x', `to_char(x AT TIME ZONE 'UTC', ${ISO})`, (t) => render.text(t.buf, t.starts[0]!));
    expect(got.length).toBeGreaterThan(20_000);
    const wrong = got.filter(([mine, theirs]) => mine !== theirs);
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(got.filter(([, theirs]) => theirs === null)).toHaveLength(2);
  });

  it('timestamps one after another in the same second, then back to an earlier one, reuse nothing stale', async () => {
    const render = new TimestampText();
    const values = `SELECT '2026-01-01 00:00:00+00'::timestamptz + g * interval '250 ms' * (CASE WHEN g % 3 = 0 THEN -1 ELSE 1 END) FROM generate_series(0, 999) g`;
    const got = await pairs(values, 'x', `to_char(x AT TIME ZONE 'UTC', ${ISO})`, (t) => render.text(t.buf, t.starts[0]!));
    expect(got.filter(([mine, theirs]) => mine !== theirs)).toEqual([]);
  });

  it('UUIDs as uuid::text', async () => {
    const got = await pairs(`SELECT gen_random_uuid() FROM generate_series(1, 500) UNION ALL SELECT '00000000-0000-0000-0000-000000000000' UNION ALL SELECT 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'`, 'x', 'x::text', (t) => uuidText(t.buf, t.starts[0]!));
    expect(got.filter(([mine, theirs]) => mine !== theirs)).toEqual([]);
  });

  it('int8 as its number', async () => {
    const got = await pairs(`SELECT unnest(ARRAY[0, 1, -1, 4294967295, 4294967296, -4294967296, 9007199254740991, -9007199254740991]::int8[])`, 'x', 'x::text', (t) => String(int8At(t.buf, t.starts[0]!)));
    expect(got.filter(([mine, theirs]) => mine !== theirs)).toEqual([]);
  });
});
