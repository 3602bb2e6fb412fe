// The pure parts of the Audit evidence checks: the binary COPY tuple reader, the byte-level content hash against
// the ledger's own rowContentSha256 (every hash version and shape of row), how a chain break is named, and when a
// chain extends the previous pack's head.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainHmac, chainKey, GENESIS } from '@caracal/db';
import { BinaryTupleReader, canonicalJson, ChainHmac, ContentHasher, rowContentSha256, sha256Hex, storedRow, type StoredRow, type Tuple, type ZoneReport } from '@caracal/ledger';
import type { EvidenceContext } from '../../src/evidence/check.js';
import { AUDIT_CHECKS } from '../../src/evidence/checks/audit.js';
import { auditChains, chainProblems } from '../../src/evidence/checks/audit-chains.js';
import { auditContinuity, continuityRows, extendsHead } from '../../src/evidence/checks/audit-continuity.js';
import type { LedgerScan, ZoneResult } from '../../src/evidence/checks/audit-ledger.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const header = () => Buffer.concat([SIGNATURE, Buffer.alloc(8)]);

type Field = string | Buffer | null;

/** One tuple as PostgreSQL's binary COPY sends it: int16 field count, then int32 length (-1 NULL) and bytes. */
function tupleBytes(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [Buffer.from([fields.length >> 8, fields.length & 0xff])];
  for (const f of fields) {
    const bytes = f === null ? null : typeof f === 'string' ? Buffer.from(f, 'utf8') : f;
    const len = Buffer.alloc(4);
    len.writeInt32BE(bytes === null ? -1 : bytes.length);
    parts.push(len, ...(bytes ? [bytes] : []));
  }
  return Buffer.concat(parts);
}
const TRAILER = Buffer.from([0xff, 0xff]);

/** The binary forms the server sends: int8, int2, uuid and timestamptz (int8 microseconds from 2000-01-01 UTC). */
function int8(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}
const int2 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const uuid = (u: string) => Buffer.from(u.replaceAll('-', ''), 'hex');
const timestamptz = (iso: string) => int8(BigInt(Date.parse(iso) - Date.UTC(2000, 0, 1)) * 1000n);

/** The fields as chainSelect (the ledger's byte path) orders and encodes them. */
function rowFields(r: StoredRow & { data_text?: string | null }): Field[] {
  return [
    int8(BigInt(r.chain_seq)),
    r.hash_version === undefined ? null : int2(r.hash_version),
    uuid(r.event_id),
    uuid(r.zone_id),
    timestamptz(r.occurred_at),
    r.source,
    r.event_type,
    r.decision,
    r.reason,
    r.request_id,
    r.application_id,
    r.resource,
    r.subject,
    r.data_canonical ?? null,
    r.recorded_at === undefined ? null : timestamptz(r.recorded_at),
    r.content_sha256,
    r.prev_content_sha256,
    r.chain_hmac,
    r.data_text ?? null,
  ];
}

/** Parses one message and returns a copy of the tuple it held. */
function parseOne(fields: readonly Field[]): Tuple {
  let got: Tuple | undefined;
  const reader = new BinaryTupleReader(fields.length, (t) => (got = { buf: t.buf, starts: t.starts.slice(), lens: t.lens.slice() }));
  reader.push(Buffer.concat([header(), tupleBytes(fields)]));
  return got!;
}

const base = (over: Partial<StoredRow> = {}): StoredRow => ({
  event_id: randomUUID(),
  zone_id: randomUUID(),
  chain_seq: 7,
  occurred_at: '2026-01-02T03:04:05.678Z',
  recorded_at: '2026-01-02T03:04:06.001Z',
  source: 'sts',
  event_type: 'mandate.issued',
  decision: 'allow',
  reason: 'granted',
  request_id: 'req-1',
  application_id: null,
  resource: 'resource://x',
  subject: null,
  data_canonical: canonicalJson({ b: 'tab\there "q" \\ ünï 😀', a: [1, null] }),
  hash_version: 2,
  content_sha256: '',
  prev_content_sha256: GENESIS,
  chain_hmac: 'c'.repeat(64),
  ...over,
});

describe('BinaryTupleReader', () => {
  it('hands out every tuple of a stream, one per message, NULL as length -1, and notes the trailer', () => {
    const seen: Array<Array<string | null>> = [];
    const reader = new BinaryTupleReader(3, (t) => seen.push([0, 1, 2].map((f) => (t.lens[f]! < 0 ? null : t.buf.toString('utf8', t.starts[f], t.starts[f]! + t.lens[f]!)))));
    reader.push(Buffer.concat([header(), tupleBytes(['1', null, 'ä'])]));
    reader.push(tupleBytes(['2', '', 'b']));
    expect(reader.done).toBe(false);
    reader.push(TRAILER);
    expect(reader.done).toBe(true);
    expect(seen).toEqual([
      ['1', null, 'ä'],
      ['2', '', 'b'],
    ]);
  });

  it('skips a header extension and takes an empty result (header and trailer in one message)', () => {
    const ext = Buffer.concat([SIGNATURE, Buffer.from([0, 0, 0, 0, 0, 0, 0, 3]), Buffer.from('xyz')]);
    const reader = new BinaryTupleReader(1, () => expect.fail('no tuple'));
    reader.push(Buffer.concat([ext, TRAILER]));
    expect(reader.done).toBe(true);
  });

  it('refuses text-format output, a tuple of the wrong width, a tuple split across messages and data after the trailer', () => {
    expect(() => new BinaryTupleReader(1, () => {}).push(Buffer.from('1\tabc\n'))).toThrow('not in PostgreSQL binary format');
    expect(() => new BinaryTupleReader(2, () => {}).push(Buffer.concat([header(), tupleBytes(['1'])]))).toThrow('COPY tuple has 1 fields, expected 2');
    const whole = tupleBytes(['12345']);
    expect(() => new BinaryTupleReader(1, () => {}).push(Buffer.concat([header(), whole.subarray(0, whole.length - 2)]))).toThrow('split across messages');
    const r = new BinaryTupleReader(1, () => {});
    r.push(Buffer.concat([header(), TRAILER]));
    expect(() => r.push(tupleBytes(['1']))).toThrow('continues after its trailer');
  });
});

describe('ContentHasher: the bytes streamed hash exactly as the ledger hashes the row', () => {
  const hasher = new ContentHasher();
  const cases: Array<[string, StoredRow & { data_text?: string | null }]> = [
    ['hash version 2 (covers recorded_at)', base()],
    ['hash version 1 (does not)', base({ hash_version: 1 })],
    ['every optional field NULL', base({ decision: null, reason: null, request_id: null, application_id: null, resource: null, subject: null })],
    ['a row larger than the scratch buffer', base({ data_canonical: canonicalJson({ big: 'x'.repeat(10_000) }) })],
    ['a row from before data_canonical (jsonb only)', { ...base({ hash_version: 1, data_canonical: null }), data_text: '{"z": 1, "a": "b"}' }],
  ];
  for (const [name, row] of cases) {
    it(name, () => {
      const asStored = { ...row, data: row.data_text ? (JSON.parse(row.data_text) as unknown) : undefined };
      const expected = rowContentSha256(asStored);
      expect(expected).toMatch(/^[0-9a-f]{64}$/);
      expect(hasher.hash(parseOne(rowFields({ ...row, content_sha256: expected })))).toBe(expected);
    });
  }

  it('an unknown hash version hashes to nothing a row holds, as in the ledger', () => {
    const t = parseOne(rowFields({ ...base(), hash_version: 3 }));
    expect(hasher.hash(t)).toBe('');
  });

  it('one byte changed in any hashed field changes the hash, a millisecond in either time too', () => {
    const row = base();
    const good = hasher.hash(parseOne(rowFields(row)));
    const flip = (u: string) => `${u.slice(0, -1)}${u.endsWith('0') ? '1' : '0'}`;
    const later = (iso: string) => new Date(Date.parse(iso) + 1).toISOString();
    const changed: Array<Partial<StoredRow>> = [
      { event_id: flip(row.event_id) },
      { zone_id: flip(row.zone_id) },
      { occurred_at: later(row.occurred_at) },
      { recorded_at: later(row.recorded_at!) },
      { reason: `${row.reason}x` },
      { data_canonical: `${row.data_canonical} ` },
    ];
    for (const over of changed) expect(hasher.hash(parseOne(rowFields({ ...row, ...over })))).not.toBe(good);
    // A value moved across a field boundary is a different row too (each field is followed by 0x1F).
    expect(hasher.hash(parseOne(rowFields({ ...row, source: 'st', event_type: `s${row.event_type}` })))).not.toBe(good);
  });

  it('storedRow reads every field back, NULL as null, the binary columns as their text', () => {
    const row = base({ reason: null, chain_seq: 2 ** 40 + 3, occurred_at: '1969-07-20T20:17:40.000Z' });
    expect(storedRow(parseOne(rowFields(row)))).toEqual({ ...row, data: undefined });
  });

  it('sha256Hex is SHA-256', () => {
    const b = Buffer.from('caracal');
    expect(sha256Hex(b)).toBe(createHash('sha256').update(b).digest('hex'));
  });
});

const report = (over: Partial<ZoneReport> = {}): ZoneReport => ({
  zone_id: 'z',
  ok: true,
  checked: 10,
  first_seq: 1,
  last_seq: 10,
  last_content_sha256: 'a'.repeat(64),
  anchor: null,
  published_head: null,
  recorded_head: null,
  breaks: [],
  breaks_omitted: 0,
  warnings: [],
  ...over,
});

const zone = (id: string, slug: string | null, over: Partial<ZoneReport> = {}, watched: string | null = 'p'.repeat(64)): ZoneResult => {
  const r = report({ zone_id: id, ...over });
  return { zone_id: id, slug, report: r, watched: { seq: 5, content_sha256: watched }, head: { seq: r.last_seq ?? 0, content_sha256: r.last_content_sha256 ?? GENESIS, head_sig: null } };
};
const admin = (over: Partial<LedgerScan['admin']['report']> = {}, watched: string | null = 'q'.repeat(64)): LedgerScan['admin'] => ({
  report: { ok: true, checked: 4, first_seq: 1, last_seq: 4, last_content_sha256: 'd'.repeat(64), breaks: [], breaks_omitted: 0, ...over },
  statements: [],
  watched: { seq: 3, content_sha256: watched },
});

describe('chainProblems', () => {
  it('nothing when every chain verifies', () => {
    expect(chainProblems({ zones: [zone('z1', 'north')], admin: admin() })).toEqual([]);
  });

  it('names the zone (slug and id), the first break by seq and how many more; the admin chain by seq', () => {
    const broken = zone('z1', 'north', {
      ok: false,
      breaks: [
        { zone_id: 'z1', seq: 9, kind: 'chain_break', detail: 'b' },
        { zone_id: 'z1', seq: 4, kind: 'content_mismatch', detail: 'the row no longer hashes to its content_sha256' },
      ],
      breaks_omitted: 3,
    });
    const orphan = zone('z2', null, { ok: false, breaks: [{ zone_id: 'z2', seq: 11, kind: 'truncated', detail: 'cut' }] });
    const a = admin({ ok: false, breaks: [{ seq: 2, kind: 'hmac_mismatch', detail: 'bad' }] });
    expect(chainProblems({ zones: [broken, orphan, zone('z3', 'fine')], admin: a })).toEqual([
      'zone north (z1): seq 4: content_mismatch: the row no longer hashes to its content_sha256 (and 4 more break(s))',
      'zone (not in the zones table) (z2): seq 11: truncated: cut',
      'admin chain: seq 2: hmac_mismatch: bad',
    ]);
  });
});

describe('extendsHead', () => {
  const before = { seq: 5, content_sha256: 'p'.repeat(64) };
  const now = { label: 'x', head: { seq: 9, content_sha256: 'a'.repeat(64) }, at: 'p'.repeat(64), firstBreak: null, anchor: null };

  it('extends: the row at the previous head is unchanged and the chain before it intact (a break after it is audit-chains’ concern)', () => {
    expect(extendsHead(before, now)).toEqual({ ok: true, detail: 'extends the previous head at seq 5 (now at seq 9)' });
    expect(extendsHead(before, { ...now, firstBreak: { seq: 6, kind: 'chain_break' } }).ok).toBe(true);
    expect(extendsHead(before, { ...now, head: { seq: 5, content_sha256: 'p'.repeat(64) } }).ok).toBe(true);
    expect(extendsHead({ seq: 0, content_sha256: GENESIS }, { ...now, at: null }).ok).toBe(true);
  });

  it('fails when the chain is now shorter: the newest rows were deleted', () => {
    expect(extendsHead(before, { ...now, head: { seq: 3, content_sha256: 'b'.repeat(64) }, at: null })).toEqual({
      ok: false,
      detail: "the chain now ends at seq 3 but the previous pack's head was seq 5: the newest audit rows were deleted",
    });
  });

  it('fails when the row at the previous head is gone or rewritten, or the chain before it is broken', () => {
    expect(extendsHead(before, { ...now, at: null }).detail).toBe("no row holds seq 5, the previous pack's head");
    expect(extendsHead(before, { ...now, at: 'e'.repeat(64) }).detail).toBe("the row at seq 5 (the previous pack's head) no longer has the content hash that pack signed: it was rewritten");
    expect(extendsHead(before, { ...now, firstBreak: { seq: 5, kind: 'content_mismatch' } }).detail).toBe("the chain up to the previous pack's head (seq 5) is broken at seq 5 (content_mismatch)");
  });

  it('retention past the previous head is no failure; an anchor at it must hold the same hash', () => {
    expect(extendsHead(before, { ...now, at: null, anchor: { seq: 8, content_sha256: 'f'.repeat(64) } }).ok).toBe(true);
    expect(extendsHead(before, { ...now, at: null, anchor: { seq: 5, content_sha256: 'p'.repeat(64) } }).ok).toBe(true);
    expect(extendsHead(before, { ...now, at: null, anchor: { seq: 5, content_sha256: 'f'.repeat(64) } }).ok).toBe(false);
  });
});

describe('continuityRows', () => {
  const prevZone = { seq: 5, content_sha256: 'p'.repeat(64), head_sig: null };

  it('one row per chain of the previous pack; a new zone is not judged', () => {
    const rows = continuityRows({ zones: { z1: prevZone }, admin: { seq: 3, content_sha256: 'q'.repeat(64) } }, { zones: [zone('z1', 'north'), zone('z9', 'new')], admin: admin() });
    expect(rows.map((r) => [r.chain, r.verdict])).toEqual([
      ['zone north (z1)', 'PASS'],
      ['admin chain', 'PASS'],
    ]);
  });

  it('a zone that held rows and is gone FAILs; one that was empty does not', () => {
    const rows = continuityRows({ zones: { gone: prevZone, empty: { seq: 0, content_sha256: GENESIS, head_sig: null } }, admin: null }, { zones: [], admin: admin() });
    expect(rows).toMatchObject([
      { chain: 'zone empty', verdict: 'PASS' },
      { chain: 'zone gone', verdict: 'FAIL', detail: 'the zone held rows through seq 5 and has none now: the newest audit rows were deleted' },
    ]);
  });

  it('the admin chain rewritten at the previous head FAILs', () => {
    const rows = continuityRows({ zones: {}, admin: { seq: 3, content_sha256: 'q'.repeat(64) } }, { zones: [], admin: admin({}, 'r'.repeat(64)) });
    expect(rows).toMatchObject([{ chain: 'admin chain', verdict: 'FAIL' }]);
  });
});

describe('ChainHmac: the stored chain_hmac checked against the tuple bytes', () => {
  /** A buffer holding content, prev and the stored HMAC text apart from each other, and matches()'s arguments. */
  const check = (h: ChainHmac, content: string, prev: string, stored: string) => {
    const buf = Buffer.from(`xx${content}yy${prev}zz${stored}`);
    const c = Buffer.byteLength(content);
    const p = Buffer.byteLength(prev);
    return h.matches(buf, 2, c, 4 + c, p, 6 + c + p, Buffer.byteLength(stored), content, prev, () => stored);
  };
  /** `s` with its digit at `i` changed. */
  const flip = (s: string, i: number) => `${s.slice(0, i)}${s[i] === '0' ? '1' : '0'}${s.slice(i + 1)}`;
  for (const [name, keyHex] of [
    ['a 32-byte key', 'ab'.repeat(32)],
    ['a key longer than the SHA-256 block (hashed first)', '5c'.repeat(100)],
  ] as const) {
    it(`accepts exactly chainHmac's value with ${name}`, () => {
      const key = chainKey(keyHex);
      const h = new ChainHmac(key);
      const content = sha256Hex(Buffer.from('a'));
      for (const prev of [GENESIS, sha256Hex(Buffer.from('b'))]) {
        const good = chainHmac(key, content, prev);
        expect(check(h, content, prev, good)).toBe(true);
        // Any other text is refused, as a comparison of the text would: one digit changed (first or last), upper
        // case, one character short or long, an HMAC under another key.
        for (const bad of [flip(good, 0), flip(good, 63), good.toUpperCase(), good.slice(1), `${good}0`, chainHmac(chainKey('cd'.repeat(32)), content, prev)]) {
          expect(check(h, content, prev, bad)).toBe(false);
        }
      }
    });
  }

  it('agrees with chainHmac over 2,000 random rows (their HMACs hold every byte value; each passes through a latin1 string)', () => {
    const keyHex = randomBytes(32).toString('hex');
    const key = chainKey(keyHex);
    const other = chainKey(randomBytes(32).toString('hex'));
    const h = new ChainHmac(key);
    const bytes = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const content = randomBytes(32).toString('hex');
      const prev = randomBytes(32).toString('hex');
      const good = chainHmac(key, content, prev);
      for (const b of Buffer.from(good, 'hex')) bytes.add(b);
      // One hex digit changed anywhere, or the HMAC under another key, is refused.
      const row = `key ${keyHex}, content ${content}, prev ${prev}`;
      expect(check(h, content, prev, good), row).toBe(true);
      expect(check(h, content, prev, flip(good, i % 64)), `${row}, digit ${i % 64}`).toBe(false);
      expect(check(h, content, prev, chainHmac(other, content, prev)), row).toBe(false);
    }
    expect(bytes.size).toBe(256);
  });

  it('a NULL stored chain_hmac is refused on either path', () => {
    const key = chainKey('ab'.repeat(32));
    const h = new ChainHmac(key);
    const content = sha256Hex(Buffer.from('a'));
    const buf = Buffer.from(`${content}${GENESIS}`);
    expect(h.matches(buf, 0, 64, 64, 64, 0, -1, content, GENESIS, () => null)).toBe(false);
    const odd = Buffer.from(`abc${GENESIS}`);
    expect(h.matches(odd, 0, 3, 3, 64, 0, -1, 'abc', GENESIS, () => null)).toBe(false);
  });

  it('odd-length or non-ASCII values (forged rows) are checked as the ledger computes them', () => {
    const key = chainKey('01'.repeat(32));
    const h = new ChainHmac(key);
    const pairs: Array<[string, string]> = [
      ['abc', GENESIS],
      [GENESIS, 'ünï'],
    ];
    for (const [c, p] of pairs) {
      expect(check(h, c, p, chainHmac(key, c, p))).toBe(true);
      expect(check(h, c, p, chainHmac(key, p, c))).toBe(false);
    }
  });
});

describe('the checks without their dependencies', () => {
  const ctx = (over: Partial<EvidenceContext>): EvidenceContext =>
    ({ db: { ok: false, reason: 'Postgres unreachable: connect ECONNREFUSED 127.0.0.1:1' }, redis: { ok: false, reason: 'Redis unreachable: x' }, previous: null, ...over }) as EvidenceContext;
  const previous = { path: '/p', generatedAt: '2026-01-01T00:00:00Z', heads: { zones: {}, admin: null } };

  it('audit-chains is SKIPPED with the reason Postgres or Redis is unreachable, and records no heads', async () => {
    expect(await auditChains.run(ctx({}))).toEqual({ status: 'SKIPPED', reason: 'Postgres unreachable: connect ECONNREFUSED 127.0.0.1:1', raw: [] });
    const noRedis = await auditChains.run(ctx({ db: { ok: true, value: {} as never } }));
    expect(noRedis).toEqual({ status: 'SKIPPED', reason: 'Redis unreachable: x', raw: [] });
  });

  it('audit-continuity is SKIPPED without --previous, and with it when the database is unreachable', async () => {
    expect((await auditContinuity.run(ctx({}))).reason).toBe('no previous pack given (--previous PACK): continuity with an earlier pack cannot be shown');
    expect(await auditContinuity.run(ctx({ previous }))).toMatchObject({ status: 'SKIPPED', reason: 'Postgres unreachable: connect ECONNREFUSED 127.0.0.1:1' });
  });

  it('the group lists both, chains first', () => {
    expect(AUDIT_CHECKS.map((c) => c.id)).toEqual(['audit-chains', 'audit-continuity']);
  });
});
