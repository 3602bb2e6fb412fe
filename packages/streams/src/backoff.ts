// The retry delay of a read loop after a Redis error: doubles up to a cap, and ends at once when the loop stops,
// so stopping a service never waits out a backoff.

export class Backoff {
  private ms: number;
  private wake: (() => void) | undefined;

  constructor(
    private readonly firstMs = 100,
    private readonly maxMs = 5000,
  ) {
    this.ms = firstMs;
  }

  reset(): void {
    this.ms = this.firstMs;
  }

  /** Waits the current delay, then doubles it for the next failure. */
  async wait(): Promise<void> {
    const ms = this.ms;
    this.ms = Math.min(this.ms * 2, this.maxMs);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** Ends the current wait now. */
  interrupt(): void {
    this.wake?.();
  }
}
