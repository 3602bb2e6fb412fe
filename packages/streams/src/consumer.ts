// A consumer-group reader that acknowledges only after durable handling (R-STR-4): failed messages stay pending,
// are reclaimed with XAUTOCLAIM once idle, and after too many deliveries go to the DLQ with a reason.
import type { Redis } from 'ioredis';
import type { StreamKeys } from './keys.js';
import { dlqOf } from './names.js';

export interface StreamMessage {
  id: string;
  fields: Record<string, string>;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

export interface ConsumerHooks {
  /** A message failed verification; it was acknowledged and dropped (or dead-lettered). */
  onRejected?: (msg: StreamMessage, reason: string) => void;
  /** A message exhausted its deliveries and was moved to the DLQ. */
  onDeadLettered?: (msg: StreamMessage, reason: string) => void;
  /** The handler threw; the message stays pending for redelivery. */
  onHandlerError?: (msg: StreamMessage, err: unknown) => void;
  /** Reading from Redis failed; the loop backs off and retries. */
  onReadError?: (err: unknown) => void;
}

export interface ConsumerOptions {
  redis: Redis;
  keys: StreamKeys;
  stream: string;
  group: string;
  consumer: string;
  verify: (msg: StreamMessage) => Verdict;
  handle: (msg: StreamMessage) => Promise<void>;
  /** What happens to a message that fails verification: dropped (R-STR-2) or kept in the DLQ (audit). */
  onInvalid?: 'drop' | 'dlq';
  maxDeliveries?: number;
  /** A pending message idle this long is reclaimed, from a dead consumer or from our own failed attempt. */
  reclaimIdleMs?: number;
  blockMs?: number;
  count?: number;
  hooks?: ConsumerHooks;
}

export function toFields(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

export class StreamConsumer {
  private running = false;
  private loop: Promise<void> | undefined;
  private lastReclaim = 0;
  private readonly o: Required<Omit<ConsumerOptions, 'hooks'>> & { hooks: ConsumerHooks };

  constructor(opts: ConsumerOptions) {
    this.o = { onInvalid: 'drop', maxDeliveries: 5, reclaimIdleMs: 30_000, blockMs: 1000, count: 100, hooks: {}, ...opts };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the current batch; unacknowledged messages stay pending for the next consumer. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** One pass: reclaim idle pending entries, then read new ones. Exposed for tests and benchmarks. */
  async pollOnce(): Promise<number> {
    let n = 0;
    if (Date.now() - this.lastReclaim >= Math.min(this.o.reclaimIdleMs, 5000)) {
      this.lastReclaim = Date.now();
      n += await this.reclaim();
    }
    const key = this.o.keys.key(this.o.stream);
    const res = (await this.o.redis.xreadgroup(
      'GROUP', this.o.group, this.o.consumer, 'COUNT', this.o.count, 'BLOCK', this.o.blockMs, 'STREAMS', key, '>',
    )) as Array<[string, Array<[string, string[]]>]> | null;
    for (const [, entries] of res ?? []) {
      for (const [id, flat] of entries) {
        await this.process({ id, fields: toFields(flat) }, 1);
        n++;
      }
    }
    return n;
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (this.running) {
      try {
        await this.pollOnce();
        backoff = 100;
      } catch (err) {
        this.o.hooks.onReadError?.(err);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private async reclaim(): Promise<number> {
    const key = this.o.keys.key(this.o.stream);
    let cursor = '0-0';
    let n = 0;
    do {
      const res = (await this.o.redis.xautoclaim(key, this.o.group, this.o.consumer, this.o.reclaimIdleMs, cursor, 'COUNT', this.o.count)) as [
        string,
        Array<[string, string[]] | null>,
        string[]?,
      ];
      cursor = res[0];
      for (const entry of res[1]) {
        if (!entry) continue;
        const [id, flat] = entry;
        await this.process({ id, fields: toFields(flat) }, await this.deliveries(id));
        n++;
      }
      // Entries deleted from the stream while pending are dropped from the PEL by XAUTOCLAIM itself.
    } while (cursor !== '0-0' && this.running);
    return n;
  }

  private async deliveries(id: string): Promise<number> {
    const key = this.o.keys.key(this.o.stream);
    const rows = (await this.o.redis.xpending(key, this.o.group, id, id, 1)) as Array<[string, string, number, number]>;
    return rows[0]?.[3] ?? 1;
  }

  private async process(msg: StreamMessage, deliveries: number): Promise<void> {
    const key = this.o.keys.key(this.o.stream);
    const verdict = this.o.verify(msg);
    if (!verdict.ok) {
      if (this.o.onInvalid === 'dlq') await this.deadLetter(msg, verdict.reason, deliveries);
      else await this.o.redis.xack(key, this.o.group, msg.id);
      this.o.hooks.onRejected?.(msg, verdict.reason);
      return;
    }
    if (deliveries > this.o.maxDeliveries) {
      await this.deadLetter(msg, `max_deliveries_exceeded (${deliveries - 1} attempts)`, deliveries);
      this.o.hooks.onDeadLettered?.(msg, 'max_deliveries_exceeded');
      return;
    }
    try {
      await this.o.handle(msg);
    } catch (err) {
      this.o.hooks.onHandlerError?.(msg, err);
      return;
    }
    await this.o.redis.xack(key, this.o.group, msg.id);
  }

  private async deadLetter(msg: StreamMessage, reason: string, deliveries: number): Promise<void> {
    const key = this.o.keys.key(this.o.stream);
    const dlq = this.o.keys.key(dlqOf(this.o.stream));
    // The DLQ entry keeps the original fields (and signature) so it can be inspected and replayed.
    const extra = ['_dlq_reason', reason, '_dlq_source_id', msg.id, '_dlq_deliveries', String(deliveries), '_dlq_at', new Date().toISOString()];
    // Ack only once the DLQ write succeeded (R-STR-4). Not MULTI: a failing XADD inside MULTI does not stop the
    // XACK, so the message would be lost. A crash in between leaves a duplicate DLQ entry, never a lost message.
    await this.o.redis.xadd(dlq, '*', ...Object.entries(msg.fields).flat(), ...extra);
    await this.o.redis.xack(key, this.o.group, msg.id);
  }
}
