// Gateway → STS request signatures: what is covered, the ±60 s window, and malformed headers.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HEADER, signRequest, verifyRequest } from '../../src/index.js';

const key = randomBytes(32).toString('hex');
const base = { key, method: 'POST', path: '/internal/v1/gateway/authorize', body: '{"a":1}' };

describe('gateway request signatures', () => {
  it('verifies what it signed and returns the nonce for single-use bookkeeping', () => {
    const h = signRequest({ ...base, nowSeconds: 1000, nonce: 'ab'.repeat(16) });
    expect(verifyRequest(h, { ...base, nowSeconds: 1000 })).toEqual({ ok: true, nonce: 'ab'.repeat(16), timestamp: 1000 });
  });

  it.each([
    ['method', { method: 'PUT' }],
    ['path', { path: '/internal/v1/other' }],
    ['body', { body: '{"a":2}' }],
    ['key', { key: randomBytes(32).toString('hex') }],
  ])('fails when the %s differs', (_n, change) => {
    const h = signRequest({ ...base, nowSeconds: 1000 });
    expect(verifyRequest(h, { ...base, ...change, nowSeconds: 1000 })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('accepts up to 60 s of skew either way and no more', () => {
    const h = signRequest({ ...base, nowSeconds: 1000 });
    expect(verifyRequest(h, { ...base, nowSeconds: 1060 }).ok).toBe(true);
    expect(verifyRequest(h, { ...base, nowSeconds: 940 }).ok).toBe(true);
    expect(verifyRequest(h, { ...base, nowSeconds: 1061 })).toEqual({ ok: false, reason: 'clock_skew' });
    expect(verifyRequest(h, { ...base, nowSeconds: 939 })).toEqual({ ok: false, reason: 'clock_skew' });
  });

  it('refuses missing, repeated and malformed headers', () => {
    const h = signRequest({ ...base, nowSeconds: 1000 });
    expect(verifyRequest({ ...h, [HEADER.signature]: undefined }, { ...base, nowSeconds: 1000 })).toEqual({ ok: false, reason: 'missing_signature' });
    expect(verifyRequest({ ...h, [HEADER.nonce]: [h[HEADER.nonce]!, 'x'] }, { ...base, nowSeconds: 1000 })).toEqual({ ok: false, reason: 'missing_signature' });
    expect(verifyRequest({ ...h, [HEADER.timestamp]: '1e3' }, { ...base, nowSeconds: 1000 })).toEqual({ ok: false, reason: 'malformed_signature' });
    expect(verifyRequest({ ...h, [HEADER.signature]: 'zz' }, { ...base, nowSeconds: 1000 })).toEqual({ ok: false, reason: 'malformed_signature' });
    expect(verifyRequest({ ...h, [HEADER.nonce]: 'short' }, { ...base, nowSeconds: 1000 })).toEqual({ ok: false, reason: 'malformed_signature' });
  });
});
