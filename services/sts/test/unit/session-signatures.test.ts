// The STS's cache of verified session-mandate signatures, through the real verifier: what it skips is only the
// ES256 arithmetic for the exact same token and key object; claims, key resolution and every refusal still apply.
// The gateway mandates a process signed itself skip it once, under the same conditions.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signMandate, verifyMandate, type VerifyOptions } from '../../../../packages/mandates/dist/index.js';
import { IssuedSignatures, SessionSignatures } from '../../src/token/session-signatures.js';

const ISS = 'https://sts.example';
const ZONE = '0190f3d2-0000-7000-8000-000000000001';
const KID = 'k1';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const claims = { iss: ISS, sub: 'app', aud: ISS, zone_id: ZONE, client_id: 'ci', scope: 'agent:lifecycle', sid: 's1', use: 'session' as const, ttlSeconds: 60 };

/** A cache whose has() answers are counted: a `true` is an ES256 verification skipped. */
function counted(cache: SessionSignatures) {
  const hits: boolean[] = [];
  return {
    hits,
    verified: { has: (t: string, k: KeyObject) => (hits.push(cache.has(t, k)), hits.at(-1)!), add: (t: string, k: KeyObject, exp: number) => cache.add(t, k, exp) },
  };
}
const opts = (verified: VerifyOptions['verified'], key: () => KeyObject | undefined = () => publicKey, o: Partial<VerifyOptions> = {}): VerifyOptions => ({
  resolveKey: async (zone, kid) => (zone === ZONE && kid === KID ? key() : undefined),
  verified,
  issuer: ISS,
  use: 'session',
  ...o,
});

describe('SessionSignatures with verifyMandate', () => {
  it('the same token with the same key object skips only the signature check the second time', async () => {
    const c = counted(new SessionSignatures());
    const { token, claims: cl } = await signMandate(claims, privateKey, KID);
    expect(await verifyMandate(token, opts(c.verified))).toEqual({ ok: true, claims: cl });
    expect(await verifyMandate(token, opts(c.verified))).toEqual({ ok: true, claims: cl });
    expect(c.hits).toEqual([false, true]);
  });

  it("another payload under a known token's signature is refused: the cache is keyed by the whole token", async () => {
    const c = counted(new SessionSignatures());
    const { token } = await signMandate(claims, privateKey, KID);
    expect((await verifyMandate(token, opts(c.verified))).ok).toBe(true);
    const [h, p, s] = token.split('.');
    const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'admin' })).toString('base64url');
    expect(await verifyMandate(`${h}.${widened}.${s}`, opts(c.verified))).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('claims are checked on every call: a known token past its expiry or presented for another use is refused', async () => {
    let clock = Date.now();
    const cache = new SessionSignatures(100, () => clock);
    const c = counted(cache);
    const { token } = await signMandate(claims, privateKey, KID);
    expect((await verifyMandate(token, opts(c.verified))).ok).toBe(true);
    expect(await verifyMandate(token, opts(c.verified, undefined, { use: 'gateway' }))).toEqual({ ok: false, reason: 'wrong_use' });
    expect(c.hits).toEqual([false, true]);
    clock += 61_000;
    expect(await verifyMandate(token, opts(c.verified, undefined, { currentDate: new Date(clock) }))).toEqual({ ok: false, reason: 'token_expired' });
    expect(cache.has(token, publicKey)).toBe(false);
  });

  it('the key is resolved every time: a retired kid is refused, a reloaded key object verifies afresh', async () => {
    const c = counted(new SessionSignatures());
    const { token } = await signMandate(claims, privateKey, KID);
    expect((await verifyMandate(token, opts(c.verified))).ok).toBe(true);
    expect(await verifyMandate(token, opts(c.verified, () => undefined))).toEqual({ ok: false, reason: 'unknown_key' });
    const reloaded = createPublicKey({ key: publicKey.export({ format: 'jwk' }), format: 'jwk' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(await verifyMandate(token, opts(c.verified, () => other))).toEqual({ ok: false, reason: 'bad_signature' });
    expect((await verifyMandate(token, opts(c.verified, () => reloaded))).ok).toBe(true);
    expect(c.hits).toEqual([false, false, false]);
  });

  it('nothing that failed is kept: a bad signature, a wrong use', async () => {
    const cache = new SessionSignatures();
    const { token } = await signMandate(claims, privateKey, KID);
    const bad = `${token.slice(0, token.lastIndexOf('.') + 1)}${Buffer.alloc(64, 1).toString('base64url')}`;
    expect((await verifyMandate(bad, opts(cache))).ok).toBe(false);
    expect(cache.has(bad, publicKey)).toBe(false);
    expect((await verifyMandate(token, opts(cache, undefined, { use: 'gateway' }))).ok).toBe(false);
    expect(cache.has(token, publicKey)).toBe(false);
  });

  it('stays within its bound', async () => {
    const cache = new SessionSignatures(3);
    const tokens = await Promise.all(Array.from({ length: 5 }, () => signMandate(claims, privateKey, KID)));
    for (const t of tokens) expect((await verifyMandate(t.token, opts(cache))).ok).toBe(true);
    expect(tokens.map((t) => cache.has(t.token, publicKey))).toEqual([false, false, true, true, true]);
  });
});

describe('IssuedSignatures with verifyMandate', () => {
  const gateway = { ...claims, use: 'gateway' as const };
  const gatewayOpts = (cache: IssuedSignatures, key?: () => KeyObject | undefined, o: Partial<VerifyOptions> = {}) => opts(cache, key, { use: 'gateway', ...o });

  it('a mandate this process signed skips the signature check once; presented again, it is verified in full', async () => {
    const checks: string[] = [];
    const cache = new IssuedSignatures(100, Date.now, (c) => checks.push(c));
    const { token, claims: cl } = await signMandate(gateway, privateKey, KID);
    cache.remember(token, publicKey, cl.exp);
    expect(await verifyMandate(token, gatewayOpts(cache))).toEqual({ ok: true, claims: cl });
    expect(await verifyMandate(token, gatewayOpts(cache))).toEqual({ ok: true, claims: cl });
    expect(checks).toEqual(['remembered', 'verified']);
  });

  it('a verification keeps nothing: a mandate another process signed is verified in full every time', async () => {
    const checks: string[] = [];
    const cache = new IssuedSignatures(100, Date.now, (c) => checks.push(c));
    const { token } = await signMandate(gateway, privateKey, KID);
    expect((await verifyMandate(token, gatewayOpts(cache))).ok).toBe(true);
    expect((await verifyMandate(token, gatewayOpts(cache))).ok).toBe(true);
    expect(checks).toEqual(['verified', 'verified']);
  });

  it('remembered under another key object than the one resolved now (a reloaded or rotated key): verified in full', async () => {
    const cache = new IssuedSignatures();
    const { token, claims: cl } = await signMandate(gateway, privateKey, KID);
    cache.remember(token, publicKey, cl.exp);
    const reloaded = createPublicKey({ key: publicKey.export({ format: 'jwk' }), format: 'jwk' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(await verifyMandate(token, gatewayOpts(cache, () => other))).toEqual({ ok: false, reason: 'bad_signature' });
    expect(cache.has(token, reloaded)).toBe(false);
    expect(cache.has(token, publicKey)).toBe(true);
  });

  it('the claims still decide: a remembered mandate presented for another use, or after its expiry, is refused', async () => {
    let clock = Date.now();
    const cache = new IssuedSignatures(100, () => clock);
    const a = await signMandate(gateway, privateKey, KID);
    cache.remember(a.token, publicKey, a.claims.exp);
    expect(await verifyMandate(a.token, opts(cache, undefined, { use: 'session' }))).toEqual({ ok: false, reason: 'wrong_use' });
    const b = await signMandate(gateway, privateKey, KID);
    cache.remember(b.token, publicKey, b.claims.exp);
    clock += 61_000;
    expect(await verifyMandate(b.token, gatewayOpts(cache, undefined, { currentDate: new Date(clock) }))).toEqual({ ok: false, reason: 'token_expired' });
  });

  it('stays within its bound', async () => {
    const cache = new IssuedSignatures(2);
    const minted = await Promise.all(Array.from({ length: 3 }, () => signMandate(gateway, privateKey, KID)));
    for (const m of minted) cache.remember(m.token, publicKey, m.claims.exp);
    expect(minted.map((m) => cache.has(m.token, publicKey))).toEqual([false, true, true]);
  });
});
