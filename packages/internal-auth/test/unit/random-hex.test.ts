// The pooled random source: every byte of every fill is handed out exactly once, in order, and a refill happens
// only when a draw does not fit in what is left.
import { describe, expect, it } from 'vitest';
import { RandomPool, randomHex } from '../../src/index.js';

/** A fill that writes a running counter, so where each byte came from can be read off the output. */
function counting() {
  let next = 0;
  const fills: number[] = [];
  const fill = (b: Buffer) => {
    fills.push(b.length);
    for (let i = 0; i < b.length; i++) b[i] = next++ & 0xff;
  };
  return { fill, fills };
}

const bytesOf = (hex: string) => [...Buffer.from(hex, 'hex')];

describe('RandomPool', () => {
  it('hands out each byte once, in order, refilling only when a draw does not fit', () => {
    const { fill, fills } = counting();
    const pool = new RandomPool(8, fill);
    expect(fills).toEqual([]);
    expect(bytesOf(pool.hex(3))).toEqual([0, 1, 2]);
    expect(bytesOf(pool.hex(4))).toEqual([3, 4, 5, 6]);
    expect(fills).toEqual([8]);
    // One byte is left: a draw of two takes a new fill and the leftover byte (7) is never handed out.
    expect(bytesOf(pool.hex(2))).toEqual([8, 9]);
    expect(fills).toEqual([8, 8]);
    expect(bytesOf(pool.hex(6))).toEqual([10, 11, 12, 13, 14, 15]);
    expect(fills).toEqual([8, 8]);
  });

  it('fills a draw larger than the pool on its own, leaving the pool as it was', () => {
    const { fill, fills } = counting();
    const pool = new RandomPool(4, fill);
    expect(bytesOf(pool.hex(2))).toEqual([0, 1]);
    expect(bytesOf(pool.hex(6))).toEqual([4, 5, 6, 7, 8, 9]);
    expect(fills).toEqual([4, 6]);
    expect(bytesOf(pool.hex(2))).toEqual([2, 3]);
  });

  it('refuses a negative or fractional count without moving: the next draw is still fresh', () => {
    const { fill } = counting();
    const pool = new RandomPool(8, fill);
    expect(bytesOf(pool.hex(2))).toEqual([0, 1]);
    for (const bad of [-2, 1.5, Number.NaN]) expect(() => pool.hex(bad)).toThrow(RangeError);
    expect(pool.hex(0)).toBe('');
    expect(bytesOf(pool.hex(2))).toEqual([2, 3]);
  });

  it('the shared pool gives lowercase hex of the asked length, never the same twice', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const h = randomHex(16);
      expect(h).toMatch(/^[0-9a-f]{32}$/);
      seen.add(h);
    }
    expect(seen.size).toBe(2000);
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
  });
});
