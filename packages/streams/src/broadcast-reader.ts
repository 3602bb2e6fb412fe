// A per-instance reader of broadcast streams (revocations, invalidations): XREAD with a cursor of its own and no
// consumer group, so every instance of a service sees every message. The cursor is each stream's last id taken
// before the instance loads the state the messages update, so nothing published in between is missed. Messages
// are verified (R-STR-2); unsigned or badly signed ones are dropped and reported, never applied.
import type { Redis } from 'ioredis';
import type { StreamKeys } from './keys.js';
import { toFields, type StreamMessage } from './consumer.js';
import { ReadLoop } from './read-loop.js';
import { verifyFields } from './sign.js';

export type BroadcastHandler = (msg: StreamMessage) => void | Promise<void>;

export interface BroadcastHooks {
  /** A message failed verification and was dropped (R-STR-2: counted and logged by the caller). */
  onRejected?: (stream: string, msg: StreamMessage, reason: string) => void;
  /** The handler threw; the message is not retried (the caller's snapshot converges instead). */
  onHandlerError?: (stream: string, msg: StreamMessage, err: unknown) => void;
  /** Reading from Redis failed; the loop backs off and resumes from its cursor. */
  onReadError?: (err: unknown) => void;
  /**
   * The cursor could only be taken after the caller loaded its state (Redis did not answer at startup), so
   * messages published in between may be missed: the caller reloads its state.
   */
  onResync?: () => void;
}

export interface BroadcastReaderOptions {
  /** A connection of its own: a blocking XREAD holds it, and it must have no command timeout. */
  redis: Redis;
  keys: StreamKeys;
  /** STREAMS_HMAC_KEY. */
  hmacKey: string;
  /** One handler per logical stream name; all of them are read in one XREAD. */
  handlers: Readonly<Record<string, BroadcastHandler>>;
  blockMs?: number;
  count?: number;
  hooks?: BroadcastHooks;
}

export class BroadcastReader {
  private cursors: Map<string, string> | undefined;
  private readonly loop: ReadLoop;
  private readonly streams: string[];
  private readonly byKey: Map<string, string>;
  private readonly blockMs: number;
  private readonly count: number;
  private readonly hooks: BroadcastHooks;

  constructor(private readonly o: BroadcastReaderOptions) {
    this.streams = Object.keys(o.handlers);
    if (this.streams.length === 0) throw new TypeError('a broadcast reader needs at least one stream');
    this.byKey = new Map(this.streams.map((s) => [o.keys.key(s), s]));
    this.blockMs = o.blockMs ?? 1000;
    this.count = o.count ?? 100;
    this.hooks = o.hooks ?? {};
    this.loop = new ReadLoop(
      async () => {
        if (!this.cursors) {
          await this.mark(this.blockMs);
          this.hooks.onResync?.();
        }
        await this.pollOnce();
      },
      (err) => this.hooks.onReadError?.(err),
    );
  }

  /** The ids read after, per stream; undefined until `mark` succeeded. Exposed for tests. */
  get position(): ReadonlyMap<string, string> | undefined {
    return this.cursors;
  }

  /**
   * Takes each stream's last id as the cursor. Call it before loading the state the messages update; when it
   * fails (Redis unavailable), `start` takes the cursor later and reports `onResync`. Waits up to `waitMs` for
   * the connection to come up first.
   */
  async mark(waitMs = 1000): Promise<void> {
    await connected(this.o.redis, waitMs);
    const ids = await Promise.all(
      this.streams.map(async (s) => {
        const last = (await this.o.redis.xrevrange(this.o.keys.key(s), '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
        // A stream that does not exist yet is read from its start once it does.
        return [s, last[0]?.[0] ?? '0-0'] as const;
      }),
    );
    this.cursors = new Map(ids);
  }

  start(): void {
    this.loop.start();
  }

  /** Stops after the read in hand (at most `blockMs`). */
  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One read from the cursors; returns the number of messages seen. Exposed for tests. */
  async pollOnce(): Promise<number> {
    const cursors = this.cursors;
    if (!cursors) throw new Error('broadcast reader: mark() has not succeeded yet');
    const keys = this.streams.map((s) => this.o.keys.key(s));
    const ids = this.streams.map((s) => cursors.get(s)!);
    const res = (await this.o.redis.xread('COUNT', this.count, 'BLOCK', this.blockMs, 'STREAMS', ...keys, ...ids)) as Array<[string, Array<[string, string[]]>]> | null;
    let n = 0;
    for (const [key, entries] of res ?? []) {
      const stream = this.byKey.get(key)!;
      for (const [id, flat] of entries) {
        cursors.set(stream, id);
        await this.apply(stream, { id, fields: toFields(flat) });
        n++;
      }
    }
    return n;
  }

  private async apply(stream: string, msg: StreamMessage): Promise<void> {
    if (!verifyFields(stream, msg.fields, this.o.hmacKey)) {
      this.hooks.onRejected?.(stream, msg, 'bad_signature');
      return;
    }
    try {
      await this.o.handlers[stream]!(msg);
    } catch (err) {
      this.hooks.onHandlerError?.(stream, msg, err);
    }
  }
}

/** Waits until the connection is ready, at most `ms`; a command sent on a connection that is not fails at once. */
async function connected(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') redis.connect().catch(() => undefined);
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    redis.once('ready', done);
  });
}
