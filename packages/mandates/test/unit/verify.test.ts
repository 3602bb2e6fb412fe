// Mandate signing and verification on node:crypto, cross-checked against jose, with every malformed or hostile
// shape refused by name.
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { signMandate, toLowS, verifyMandate, type VerifyOptions } from '../../src/index.js';

const ISS = 'https://sts.example';
const ZONE = '0190f3d2-0000-7000-8000-000000000001';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KID = 'k1';
const opts = (o: Partial<VerifyOptions> = {}): VerifyOptions => ({
  resolveKey: async (zone, kid) => (zone === ZONE && kid === KID ? publicKey : undefined),
  issuer: ISS,
  use: 'gateway',
  ...o,
});
const claims = { iss: ISS, sub: 'agent', aud: 'resource://r', zone_id: ZONE, client_id: 'ci', scope: 'read', sid: 's1', use: 'gateway' as const };
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const raw = (header: object, payload: object, key: KeyObject = privateKey, dsaEncoding: 'ieee-p1363' | 'der' = 'ieee-p1363') => {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = nodeSign('sha256', Buffer.from(input), { key, dsaEncoding });
  return `${input}.${(dsaEncoding === 'der' ? sig : toLowS(sig)).toString('base64url')}`;
};
// P-256 group order: (r, n - s) is the malleated twin of a valid signature (r, s).
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const highS = (token: string) => {
  const [h, p, s] = token.split('.');
  const sig = Buffer.from(s!, 'base64url');
  const flipped = Buffer.from((N - BigInt(`0x${sig.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0'), 'hex');
  return `${h}.${p}.${Buffer.concat([sig.subarray(0, 32), flipped]).toString('base64url')}`;
};
const full = () => ({ ...claims, iat: now(), nbf: now(), exp: now() + 60, jti: 'j' });

describe('sign → verify', () => {
  it('round-trips, and jose verifies what we sign', async () => {
    const { token, claims: c } = await signMandate({ ...claims, ttlSeconds: 60 }, privateKey, KID);
    expect(await verifyMandate(token, opts({ audience: 'resource://r' }))).toEqual({ ok: true, claims: c });
    const viaJose = await jwtVerify(token, publicKey, { issuer: ISS, audience: 'resource://r', typ: 'at+jwt', algorithms: ['ES256'] });
    expect(viaJose.payload.jti).toBe(c.jti);
  });

  it('accepts a token jose signed, once in its canonical low-S form', async () => {
    const token = await new SignJWT(full()).setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt' }).sign(privateKey);
    const [h, p, s] = token.split('.');
    const canonical = `${h}.${p}.${toLowS(Buffer.from(s!, 'base64url')).toString('base64url')}`;
    expect((await verifyMandate(canonical, opts())).ok).toBe(true);
  });

  it('always signs low-S, so every mandate it signs verifies (many signatures, both halves of the coin)', async () => {
    for (let i = 0; i < 40; i += 1) {
      const { token } = await signMandate({ ...claims, ttlSeconds: 60 }, privateKey, KID);
      expect((await verifyMandate(token, opts())).ok).toBe(true);
    }
  });
});

describe('refusals', () => {
  const H = { alg: 'ES256', kid: KID, typ: 'at+jwt' };
  it.each<[string, () => string, string]>([
    ['not three parts', () => 'a.b', 'malformed_token'],
    ['non-base64url characters', () => `${b64(H)}.${b64(full())}.ab+/`, 'malformed_token'],
    ['a header that is not JSON', () => `bm90IGpzb24.${b64(full())}.AA`, 'malformed_token'],
    ['a payload that is an array', () => raw(H, [1, 2]), 'malformed_token'],
    ['alg none', () => `${b64({ ...H, alg: 'none' })}.${b64(full())}.`, 'alg_not_allowed'],
    ['alg HS256', () => `${b64({ ...H, alg: 'HS256' })}.${b64(full())}.AAAA`, 'alg_not_allowed'],
    ['alg ES384', () => raw({ ...H, alg: 'ES384' }, full()), 'alg_not_allowed'],
    ['another typ', () => raw({ ...H, typ: 'JWT' }, full()), 'malformed_token'],
    ['a crit header', () => raw({ ...H, crit: ['exp'] }, full()), 'malformed_token'],
    ['no kid', () => raw({ alg: 'ES256', typ: 'at+jwt' }, full()), 'malformed_token'],
    ['a zone that is not a UUID', () => raw(H, { ...full(), zone_id: 'zone-a' }), 'malformed_token'],
    ['an unknown kid', () => raw({ ...H, kid: 'k2' }, full()), 'unknown_key'],
    ['another key', () => raw(H, full(), other.privateKey), 'bad_signature'],
    ['a DER signature', () => raw(H, full(), privateKey, 'der'), 'bad_signature'],
    ['a truncated signature', () => raw(H, full()).slice(0, -4), 'bad_signature'],
    ['a high-S twin of a valid signature', () => highS(raw(H, full())), 'bad_signature'],
    ['a changed payload', () => { const [h, , s] = raw(H, full()).split('.'); return `${h}.${b64({ ...full(), scope: 'admin' })}.${s}`; }, 'bad_signature'],
    ['exp as a string', () => raw(H, { ...full(), exp: String(now() + 60) }), 'invalid_claims'],
    ['no jti', () => raw(H, { ...full(), jti: undefined }), 'invalid_claims'],
    ['an empty audience list', () => raw(H, { ...full(), aud: [] }), 'invalid_claims'],
    ['another issuer', () => raw(H, { ...full(), iss: 'https://evil.example' }), 'wrong_issuer'],
    ['expired', () => raw(H, { ...full(), exp: now() }), 'token_expired'],
    ['not yet valid', () => raw(H, { ...full(), nbf: now() + 30 }), 'token_not_yet_valid'],
    ['the wrong use', () => raw(H, { ...full(), use: 'session' }), 'wrong_use'],
  ])('%s → %s', async (_n, make, reason) => {
    expect(await verifyMandate(make(), opts())).toEqual({ ok: false, reason });
  });

  it('checks the audience when one is expected, in a string or a list', async () => {
    const H2 = { alg: 'ES256', kid: KID, typ: 'at+jwt' };
    expect(await verifyMandate(raw(H2, full()), opts({ audience: 'resource://other' }))).toEqual({ ok: false, reason: 'wrong_audience' });
    expect((await verifyMandate(raw(H2, { ...full(), aud: ['resource://x', 'resource://r'] }), opts({ audience: 'resource://r' }))).ok).toBe(true);
  });

  it('a zone the resolver knows publishes no keys is unknown_zone', async () => {
    expect(await verifyMandate(raw(H, full()), opts({ resolveKey: async () => 'unknown_zone' }))).toEqual({ ok: false, reason: 'unknown_zone' });
  });

  it('a token over 4 KiB is refused before decoding; a failing key source is key_unavailable', async () => {
    expect(await verifyMandate('a'.repeat(4097), opts())).toEqual({ ok: false, reason: 'token_too_large' });
    const t = raw({ alg: 'ES256', kid: KID, typ: 'at+jwt' }, full());
    expect(await verifyMandate(t, opts({ resolveKey: async () => { throw new Error('db down'); } }))).toEqual({ ok: false, reason: 'key_unavailable' });
  });
});
