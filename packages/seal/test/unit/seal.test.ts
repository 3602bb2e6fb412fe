// Sealing with the KEK: round trip, and every way a sealed value must fail to open.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seal, SealError, unseal } from '../../src/index.js';

const kek = randomBytes(32).toString('hex');

describe('seal', () => {
  it('opens with the same KEK and context, and never contains the plaintext', () => {
    const sealed = seal(kek, 'sk_live_secret', 'resource-credential:z:r');
    expect(sealed.toString('latin1')).not.toContain('sk_live_secret');
    expect(unseal(kek, sealed, 'resource-credential:z:r').toString()).toBe('sk_live_secret');
  });

  it('uses a fresh IV every time', () => {
    expect(seal(kek, 'x', 'c').equals(seal(kek, 'x', 'c'))).toBe(false);
  });

  it.each([
    ['another KEK', () => unseal(randomBytes(32).toString('hex'), seal(kek, 'x', 'c'), 'c')],
    ['another context (copied onto another row)', () => unseal(kek, seal(kek, 'x', 'row-a'), 'row-b')],
    ['a flipped ciphertext bit', () => { const s = seal(kek, 'xyz', 'c'); s[s.length - 1]! ^= 1; return unseal(kek, s, 'c'); }],
    ['a flipped tag bit', () => { const s = seal(kek, 'xyz', 'c'); s[14]! ^= 1; return unseal(kek, s, 'c'); }],
    ['a truncated value', () => unseal(kek, seal(kek, 'xyz', 'c').subarray(0, 20), 'c')],
    ['an unknown version', () => { const s = seal(kek, 'xyz', 'c'); s[0] = 9; return unseal(kek, s, 'c'); }],
  ])('refuses %s', (_n, fn) => {
    expect(fn).toThrow(SealError);
  });

  it('refuses a KEK that is not 32 bytes of hex', () => {
    expect(() => seal('abc', 'x', 'c')).toThrow('the KEK must be 32 bytes of lowercase hex');
    expect(() => seal('G'.repeat(64), 'x', 'c')).toThrow(SealError);
  });
});
