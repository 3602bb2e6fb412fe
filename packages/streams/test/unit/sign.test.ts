// R-STR-2 canonical form and field signatures, R-STR-3 audit signatures: own vectors, independent HMACs, forgeries.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalize, hmacHex, safeEqualHex, signAuditData, signFields, verifyAuditData, verifyFields, type Fields } from '../../src/sign.js';

const KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const OTHER_KEY = 'ff'.repeat(32);
const STREAM = 'caracal.sessions.revoke';

/** Independent of the code under test: node:crypto directly. */
const independentHmac = (keyHex: string, data: string) => createHmac('sha256', Buffer.from(keyHex, 'hex')).update(data, 'utf8').digest('hex');

// Keys chosen so that byte order differs from locale order ('_x' < 'a' < 'B' < 'é' by localeCompare) and from
// JavaScript's default UTF-16 sort ('😀' sorts before 'Ａ' in UTF-16, after it in UTF-8 bytes: F0.. > EF..).
const FIELDS: Fields = {
  b: 'lower-b',
  B: 'upper-B',
  a: '1',
  _x: 'underscore',
  é: 'accent',
  '\u{1F600}': 'emoji',
  '\uFF21': 'fullwidth-A',
  z: '',
  n: 42,
  t: true,
  f: false,
  nul: null,
  und: undefined,
  eq: 'x=y',
  _sig: 'must-not-be-covered',
};

const EXPECTED_CANONICAL =
  'caracal.sessions.revoke\n' +
  'B=upper-B\n' +
  '_x=underscore\n' +
  'a=1\n' +
  'b=lower-b\n' +
  'eq=x=y\n' +
  'f=false\n' +
  'n=42\n' +
  't=true\n' +
  'z=\n' +
  'é=accent\n' +
  '\uFF21=fullwidth-A\n' +
  '\u{1F600}=emoji\n';

describe('canonicalize (R-STR-2)', () => {
  it('produces the hand-computed canonical string: byte order, nulls skipped, _sig excluded, empty kept', () => {
    expect(canonicalize(STREAM, FIELDS)).toBe(EXPECTED_CANONICAL);
  });

  it('is independent of the insertion order of the fields', () => {
    const reversed = Object.fromEntries(Object.entries(FIELDS).reverse());
    expect(canonicalize(STREAM, reversed)).toBe(EXPECTED_CANONICAL);
  });

  it('is just the stream line when every field is null, undefined or _sig', () => {
    expect(canonicalize(STREAM, { a: null, b: undefined, _sig: 'x' })).toBe(`${STREAM}\n`);
  });
});

describe('signFields / verifyFields (R-STR-2)', () => {
  it('signs with HMAC-SHA256 over the canonical string, matching an independent computation', () => {
    const signed = signFields(STREAM, FIELDS, KEY);
    expect(signed._sig).toBe(independentHmac(KEY, EXPECTED_CANONICAL));
    expect(signed._sig).toMatch(/^[0-9a-f]{64}$/);
  });

  it('matches a vector pinned from openssl', () => {
    // printf 'caracal.sessions.revoke\nsession_id=s-1\nzone_id=z-1\n' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY
    const signed = signFields(STREAM, { zone_id: 'z-1', session_id: 's-1' }, KEY);
    expect(signed._sig).toBe('889023a56e6136557cb407f0384627e886bb08146efcfca0639d6e23676fcb9c');
  });

  it('emits stringified fields without nulls and replaces a caller-supplied _sig', () => {
    const signed = signFields(STREAM, { n: 7, t: false, gone: null, e: '', _sig: 'forged' }, KEY);
    expect(signed).toEqual({ n: '7', t: 'false', e: '', _sig: independentHmac(KEY, `${STREAM}\ne=\nn=7\nt=false\n`) });
  });

  it('verifies what it signed once every value is a string, as it comes back from Redis', () => {
    expect(verifyFields(STREAM, signFields(STREAM, FIELDS, KEY), KEY)).toBe(true);
  });

  const signed = () => signFields(STREAM, { zone_id: 'z-1', session_id: 's-1', reason: '' }, KEY);

  it('fails on a tampered value', () => {
    expect(verifyFields(STREAM, { ...signed(), zone_id: 'z-2' }, KEY)).toBe(false);
  });

  it('fails on an added field, even an empty one (an empty string is not an absent field)', () => {
    expect(verifyFields(STREAM, { ...signed(), admin: 'true' }, KEY)).toBe(false);
    expect(verifyFields(STREAM, { ...signed(), extra: '' }, KEY)).toBe(false);
  });

  it('fails on a removed field, including a removed empty one', () => {
    const { zone_id: _z, ...noZone } = signed();
    const { reason: _r, ...noReason } = signed();
    expect(verifyFields(STREAM, noZone, KEY)).toBe(false);
    expect(verifyFields(STREAM, noReason, KEY)).toBe(false);
  });

  it('fails under the wrong key', () => {
    expect(verifyFields(STREAM, signed(), OTHER_KEY)).toBe(false);
  });

  it('fails when replayed onto another stream (the name is signed)', () => {
    expect(verifyFields('caracal.policy.invalidate', signed(), KEY)).toBe(false);
  });

  it('fails without _sig, or with a _sig that is not 64 lowercase hex characters', () => {
    const good = signed();
    const { _sig: sig, ...unsigned } = good;
    expect(verifyFields(STREAM, unsigned, KEY)).toBe(false);
    for (const bad of ['', 'zz'.repeat(32), sig!.slice(0, 62), `${sig}00`, sig!.toUpperCase(), ` ${sig!.slice(1)}`]) {
      expect(verifyFields(STREAM, { ...unsigned, _sig: bad }, KEY), bad).toBe(false);
    }
  });

  it('fails when _sig is not a string', () => {
    const { _sig: _s, ...unsigned } = signed();
    expect(verifyFields(STREAM, { ...unsigned, _sig: 1 }, KEY)).toBe(false);
    expect(verifyFields(STREAM, { ...unsigned, _sig: null }, KEY)).toBe(false);
  });

  it('fails when a field is moved from one key to another', () => {
    const s = signed();
    expect(verifyFields(STREAM, { ...s, zone_id: 's-1', session_id: 'z-1' }, KEY)).toBe(false);
  });
});

describe('hmacHex keys', () => {
  it('refuses a key that is not hex instead of silently signing with an empty or truncated key', () => {
    // Buffer.from(x, 'hex') drops everything from the first non-hex pair: 'not-a-key' would become a 0-byte key.
    for (const bad of ['', 'not-a-key', 'abc', `${KEY}z`]) expect(() => hmacHex(bad, 'data'), bad).toThrow(TypeError);
  });
});

describe('safeEqualHex', () => {
  it('is false for equal strings that are not 64-character lowercase hex', () => {
    expect(safeEqualHex('abc', 'abc')).toBe(false);
    expect(safeEqualHex('A'.repeat(64), 'A'.repeat(64))).toBe(false);
    expect(safeEqualHex('a'.repeat(64), 'a'.repeat(64))).toBe(true);
  });
});

describe('audit signatures (R-STR-3)', () => {
  const DATA = '{"event":"token.issued","zone":"z-1"}';

  it('signs the raw data string, matching an independent HMAC and a vector pinned from openssl', () => {
    const signed = signAuditData(DATA, KEY);
    expect(signed).toEqual({ data: DATA, sig: independentHmac(KEY, DATA) });
    // printf '{"event":"token.issued","zone":"z-1"}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY
    expect(signed.sig).toBe('6c6b2cf8314f7bd46610b871706de2920cc4ec0f268ca16e747be62bf36717a5');
    expect(verifyAuditData(signed, KEY)).toBe(true);
  });

  it('fails on any change to the raw bytes, even one that keeps the JSON equivalent', () => {
    const { sig } = signAuditData(DATA, KEY);
    expect(verifyAuditData({ data: DATA.replace('z-1', 'z-2'), sig }, KEY)).toBe(false);
    expect(verifyAuditData({ data: `${DATA} `, sig }, KEY)).toBe(false);
    expect(verifyAuditData({ data: '{"zone":"z-1","event":"token.issued"}', sig }, KEY)).toBe(false);
  });

  it('fails under the wrong key', () => {
    expect(verifyAuditData(signAuditData(DATA, KEY), OTHER_KEY)).toBe(false);
  });

  it('fails when data or sig is missing or not a string', () => {
    const { sig } = signAuditData(DATA, KEY);
    expect(verifyAuditData({ data: DATA }, KEY)).toBe(false);
    expect(verifyAuditData({ sig }, KEY)).toBe(false);
    expect(verifyAuditData({ data: DATA, sig: null }, KEY)).toBe(false);
    expect(verifyAuditData({ data: 5, sig: independentHmac(KEY, '5') }, KEY)).toBe(false);
  });

  it('fails on a non-hex, short, long or uppercase sig', () => {
    const { sig } = signAuditData(DATA, KEY);
    for (const bad of ['', 'g'.repeat(64), sig.slice(0, 63), `${sig}0`, sig.toUpperCase()]) {
      expect(verifyAuditData({ data: DATA, sig: bad }, KEY), bad).toBe(false);
    }
  });

  it('does not accept a field signature (_sig) in place of the audit sig', () => {
    const fieldSigned = signFields('caracal.audit.events', { data: DATA }, KEY);
    expect(verifyAuditData({ data: DATA, sig: fieldSigned._sig }, KEY)).toBe(false);
  });
});

describe('ambiguous fields (the canonical form does not escape)', () => {
  const key = 'ab'.repeat(32);
  it('refuses to sign a value with a newline, or a key with = or a newline', () => {
    expect(() => signFields('s', { a: '1\nb=2' }, key)).toThrow("field 'a' cannot be signed");
    expect(() => signFields('s', { 'a=b': '1' }, key)).toThrow('cannot be signed');
    expect(() => signFields('s', { 'a\nb': '1' }, key)).toThrow('cannot be signed');
  });

  it('never verifies a message whose fields could collide with another canonical form', () => {
    // {a:'1', b:'2'} and {a:'1\nb=2'} canonicalise identically; the second must not ride on the first's signature.
    const signed = signFields('s', { a: '1', b: '2' }, key);
    expect(canonicalize('s', { a: '1\nb=2' })).toBe(canonicalize('s', { a: '1', b: '2' }));
    expect(verifyFields('s', { a: '1\nb=2', _sig: signed._sig }, key)).toBe(false);
    expect(verifyFields('s', signed, key)).toBe(true);
  });
});
