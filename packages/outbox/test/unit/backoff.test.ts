// Retry spacing of the outbox relay (R-STR-5): doubling from the base after each failed attempt, capped.
import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../src/backoff.js';

describe('backoffMs', () => {
  const b = { baseMs: 1000, maxMs: 300_000 };

  it('waits the base after the first failure and doubles after each further one', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, b))).toEqual([1000, 2000, 4000, 8000, 16_000]);
  });

  it('never waits longer than the cap, however many failures', () => {
    expect(backoffMs(9, b)).toBe(256_000);
    expect(backoffMs(10, b)).toBe(300_000);
    expect(backoffMs(1000, b)).toBe(300_000);
  });

  it('treats a count below one as the first failure', () => {
    expect(backoffMs(0, b)).toBe(1000);
  });
});
