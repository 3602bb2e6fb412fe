// The loop of a stream reader: one pass after another until stopped, backing off (doubling up to a cap) after a
// failed pass. Stopping ends a backoff at once, so stopping a service never waits one out.

export class ReadLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private delayMs: number;
  private wake: (() => void) | undefined;

  constructor(
    private readonly pass: () => Promise<unknown>,
    private readonly onError: (err: unknown) => Promise<void> | void,
    private readonly firstDelayMs = 100,
    private readonly maxDelayMs = 5000,
  ) {
    this.delayMs = firstDelayMs;
  }

  get active(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Resolves once the pass in hand has finished. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.pass();
        this.delayMs = this.firstDelayMs;
      } catch (err) {
        if (!this.running) break;
        await this.onError(err);
        await this.backOff();
      }
    }
  }

  private async backOff(): Promise<void> {
    const ms = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
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
}
