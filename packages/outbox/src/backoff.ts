// Retry spacing of an event the relay could not publish: doubling from the base, capped (R-STR-5).

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** The wait before the next attempt, after `failures` failed attempts (1 or more). */
export function backoffMs(failures: number, b: Backoff): number {
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}
