// A consumer-group reader that acknowledges only after durable handling (R-STR-4): failed messages stay pending,
// are reclaimed with XAUTOCLAIM once idle, and after too many deliveries go to the DLQ with a reason. Messages are
// handled a batch at a time (the audit ledger commits a batch per zone); `handle` is the one-message form.
// A consumer that stops hands what is still pending for it to the consumer `handover`, which every running
// consumer takes over at once instead of after the idle time, and then leaves the group.
import type { Redis } from 'ioredis';
import { ensureGroups } from './groups.js';
import type { StreamKeys } from './keys.js';
import { dlqOf } from './names.js';
import { ReadLoop } from './read-loop.js';

export interface StreamMessage {
  id: string;
  fields: Record<string, string>;
}

/** The consumer that holds the entries of a consumer that stopped, until a running one takes them. */
export const HANDOVER_CONSUMER = 'handover';

/**
 * Handed-over entries are marked idle this long, so any consumer may take them with its usual minimum idle time,
 * and two consumers never both take one (the first claim resets the idle time).
 */
const HANDOVER_IDLE_MS = 24 * 3600_000;

export type Verdict = { ok: true } | { ok: false; reason: string; detail?: string };

/** What became of one message of a batch: acknowledged, dead-lettered with a reason, or left for redelivery. */
export type Outcome = { kind: 'done' } | { kind: 'dlq'; reason: string; detail?: string } | { kind: 'retry'; error: unknown };

export interface ConsumerHooks {
  /** A message failed verification; it was acknowledged and dropped (or dead-lettered). */
  onRejected?: (msg: StreamMessage, reason: string) => void;
  /** A message was moved to the DLQ (exhausted deliveries, or the handler's verdict). */
  onDeadLettered?: (msg: StreamMessage, reason: string) => void;
  /** The handler failed; the message stays pending for redelivery. */
  onHandlerError?: (msg: StreamMessage, err: unknown) => void;
  /** Reading from Redis failed; the loop backs off and retries. */
  onReadError?: (err: unknown) => void;
  /** On stop: how many pending entries went to `handover`, and whether the consumer left the group. */
  onHandedOver?: (moved: number, left: boolean) => void;
}

interface ConsumerBase {
  redis: Redis;
  keys: StreamKeys;
  stream: string;
  group: string;
  consumer: string;
  verify: (msg: StreamMessage) => Verdict;
  /** What happens to a message that fails verification: dropped (R-STR-2) or kept in the DLQ (audit). */
  onInvalid?: 'drop' | 'dlq';
  maxDeliveries?: number;
  /** A pending message idle this long is reclaimed, from a dead consumer or from our own failed attempt. */
  reclaimIdleMs?: number;
  blockMs?: number;
  count?: number;
  /**
   * Reads handled at once (default 1). With more, the next read is fetched and handled while earlier ones still
   * commit; a handler that needs order (the ledger, per zone) keeps it itself.
   */
  inFlight?: number;
  /**
   * After a read that returned fewer than `count` messages, wait this long before the next one (default 0), so
   * that a trickle of messages is handled in reads of several rather than one read each.
   */
  lingerMs?: number;
  hooks?: ConsumerHooks;
}

export type ConsumerOptions = ConsumerBase &
  (
    | { handle: (msg: StreamMessage) => Promise<void>; handleBatch?: never }
    /** Every verified message of a read, in stream order; returns an outcome per message id (missing = retry). */
    | { handleBatch: (msgs: readonly StreamMessage[]) => Promise<Map<string, Outcome>>; handle?: never }
  );

export function toFields(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

type Entry = [string, string[]];

export class StreamConsumer {
  private readonly loop: ReadLoop;
  private lastReclaim = 0;
  private lastHandoverClaim = 0;
  private readonly o: Required<Omit<ConsumerBase, 'hooks'>> & { hooks: ConsumerHooks };
  private readonly handleBatch: (msgs: readonly StreamMessage[]) => Promise<Map<string, Outcome>>;
  private readonly pending = new Set<Promise<void>>();

  constructor(opts: ConsumerOptions) {
    this.o = { onInvalid: 'drop', maxDeliveries: 5, reclaimIdleMs: 30_000, blockMs: 1000, count: 100, inFlight: 1, lingerMs: 0, hooks: {}, ...opts };
    if (opts.consumer === HANDOVER_CONSUMER) throw new TypeError(`consumer name '${HANDOVER_CONSUMER}' is reserved`);
    this.loop = new ReadLoop(
      () => this.pollOnce(),
      async (err) => {
        this.o.hooks.onReadError?.(err);
        // A Redis that lost the group (restarted without persistence, or the stream is new) gets it back.
        if (String((err as Error)?.message).startsWith('NOGROUP')) {
          await ensureGroups(this.o.redis, this.o.keys, [{ stream: this.o.stream, group: this.o.group }]).catch(() => undefined);
        }
      },
    );
    const one = opts.handle;
    this.handleBatch = opts.handleBatch ?? (async (msgs) => {
      const out = new Map<string, Outcome>();
      for (const m of msgs) {
        try {
          await one!(m);
          out.set(m.id, { kind: 'done' });
        } catch (error) {
          out.set(m.id, { kind: 'retry', error });
        }
      }
      return out;
    });
  }

  start(): void {
    this.loop.start();
  }

  /**
   * Stops after the batches in hand, then hands whatever is still pending for this consumer to `handover` and
   * leaves the group once nothing is pending for it. When Redis does not answer, the entries stay with this
   * consumer and are reclaimed after the idle time, as a dead consumer's are.
   */
  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.pending]);
    try {
      const { moved, left } = await this.handOver();
      this.o.hooks.onHandedOver?.(moved, left);
    } catch (err) {
      this.o.hooks.onReadError?.(err);
    }
  }

  /** One pass: take handed-over entries, reclaim idle ones, then read new ones. Exposed for tests and benchmarks. */
  async pollOnce(): Promise<number> {
    let n = 0;
    if (Date.now() - this.lastHandoverClaim >= Math.min(this.o.reclaimIdleMs, 1000)) {
      this.lastHandoverClaim = Date.now();
      n += await this.claimHandedOver();
    }
    if (Date.now() - this.lastReclaim >= Math.min(this.o.reclaimIdleMs, 5000)) {
      this.lastReclaim = Date.now();
      n += await this.reclaim();
    }
    const res = (await this.o.redis.xreadgroup(
      'GROUP', this.o.group, this.o.consumer, 'COUNT', this.o.count, 'BLOCK', this.o.blockMs, 'STREAMS', this.key, '>',
    )) as Array<[string, Entry[]]> | null;
    for (const [, entries] of res ?? []) {
      await this.dispatch(this.process(entries, new Map()));
      n += entries.length;
      if (this.o.lingerMs > 0 && entries.length > 0 && entries.length < this.o.count) await new Promise((r) => setTimeout(r, this.o.lingerMs));
    }
    return n;
  }

  /** Waits for the batch, or only for room when several may be in flight (their failures are reported). */
  private async dispatch(work: Promise<void>): Promise<void> {
    if (this.o.inFlight <= 1) return work;
    const tracked = work.catch((err: unknown) => this.o.hooks.onReadError?.(err)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    while (this.pending.size >= this.o.inFlight) await Promise.race(this.pending);
  }

  private get key(): string {
    return this.o.keys.key(this.o.stream);
  }

  /** Pending entries of one consumer, oldest first, at most `count`: [id, consumer, idle ms, deliveries]. */
  private async pendingOf(consumer: string, count = this.o.count): Promise<Array<[string, string, number, number]>> {
    return (await this.o.redis.xpending(this.key, this.o.group, '-', '+', count, consumer)) as Array<[string, string, number, number]>;
  }

  /** Takes the entries a stopped consumer handed over, at once, and handles them like reclaimed ones. */
  private async claimHandedOver(): Promise<number> {
    const rows = await this.pendingOf(HANDOVER_CONSUMER);
    if (rows.length === 0) return 0;
    // The usual minimum idle time: an entry another consumer took a moment ago (its idle time reset) stays with it.
    const claimed = (await this.o.redis.xclaim(this.key, this.o.group, this.o.consumer, this.o.reclaimIdleMs, ...rows.map((r) => r[0]))) as Array<Entry | null>;
    const entries = claimed.filter((e): e is Entry => e !== null);
    if (entries.length > 0) await this.process(entries, await this.deliveries(entries));
    return entries.length;
  }

  private async handOver(): Promise<{ moved: number; left: boolean }> {
    let moved = 0;
    for (;;) {
      const ids = (await this.pendingOf(this.o.consumer)).map((r) => r[0]);
      if (ids.length === 0) break;
      // JUSTID: handing over is not a delivery, so the delivery count stays as it was.
      const claimed = (await this.o.redis.xclaim(this.key, this.o.group, HANDOVER_CONSUMER, 0, ...ids, 'IDLE', HANDOVER_IDLE_MS, 'JUSTID')) as string[];
      moved += claimed.length;
      if (claimed.length === 0) break;
    }
    // DELCONSUMER discards the consumer's pending entries with it, so it is only sent when there are none.
    const left = (await this.pendingOf(this.o.consumer, 1)).length === 0;
    if (left) await this.o.redis.xgroup('DELCONSUMER', this.key, this.o.group, this.o.consumer);
    return { moved, left };
  }

  private async reclaim(): Promise<number> {
    let cursor = '0-0';
    let n = 0;
    do {
      const res = (await this.o.redis.xautoclaim(this.key, this.o.group, this.o.consumer, this.o.reclaimIdleMs, cursor, 'COUNT', this.o.count)) as [
        string,
        Array<Entry | null>,
        string[]?,
      ];
      cursor = res[0];
      // Entries deleted from the stream while pending are dropped from the PEL by XAUTOCLAIM itself.
      const entries = res[1].filter((e): e is Entry => e !== null);
      if (entries.length > 0) {
        await this.process(entries, await this.deliveries(entries));
        n += entries.length;
      }
    } while (cursor !== '0-0' && this.loop.active);
    return n;
  }

  /** Delivery counts of reclaimed entries, in one XPENDING over their id range (they are this consumer's now). */
  private async deliveries(entries: readonly Entry[]): Promise<Map<string, number>> {
    const first = entries[0]![0];
    const last = entries.at(-1)![0];
    const rows = (await this.o.redis.xpending(this.key, this.o.group, first, last, entries.length, this.o.consumer)) as Array<[string, string, number, number]>;
    return new Map(rows.map((r) => [r[0], r[3]]));
  }

  private async process(entries: readonly Entry[], deliveries: Map<string, number>): Promise<void> {
    const valid: StreamMessage[] = [];
    for (const [id, flat] of entries) {
      const msg = { id, fields: toFields(flat) };
      const verdict = this.o.verify(msg);
      const n = deliveries.get(id) ?? 1;
      if (!verdict.ok) {
        if (this.o.onInvalid === 'dlq') await this.deadLetter(msg, verdict.reason, verdict.detail ?? '', n);
        else await this.o.redis.xack(this.key, this.o.group, id);
        this.o.hooks.onRejected?.(msg, verdict.reason);
      } else if (n > this.o.maxDeliveries) {
        await this.deadLetter(msg, 'max_deliveries_exceeded', `${n - 1} attempts failed`, n);
        this.o.hooks.onDeadLettered?.(msg, 'max_deliveries_exceeded');
      } else valid.push(msg);
    }
    if (valid.length === 0) return;
    let outcomes: Map<string, Outcome>;
    try {
      outcomes = await this.handleBatch(valid);
    } catch (error) {
      outcomes = new Map(valid.map((m) => [m.id, { kind: 'retry', error }]));
    }
    const done: string[] = [];
    for (const msg of valid) {
      const o = outcomes.get(msg.id) ?? { kind: 'retry', error: new Error('no outcome') };
      if (o.kind === 'done') done.push(msg.id);
      else if (o.kind === 'dlq') {
        await this.deadLetter(msg, o.reason, o.detail ?? '', deliveries.get(msg.id) ?? 1);
        this.o.hooks.onDeadLettered?.(msg, o.reason);
      } else this.o.hooks.onHandlerError?.(msg, o.error);
    }
    if (done.length > 0) await this.o.redis.xack(this.key, this.o.group, ...done);
  }

  private async deadLetter(msg: StreamMessage, reason: string, detail: string, deliveries: number): Promise<void> {
    const dlq = this.o.keys.key(dlqOf(this.o.stream));
    // The DLQ entry keeps the original fields (and signature) so it can be inspected and replayed.
    const extra = ['_dlq_reason', reason, '_dlq_detail', detail, '_dlq_source_id', msg.id, '_dlq_deliveries', String(deliveries), '_dlq_at', new Date().toISOString()];
    // Ack only once the DLQ write succeeded (R-STR-4). Not MULTI: a failing XADD inside MULTI does not stop the
    // XACK, so the message would be lost. A crash in between leaves a duplicate DLQ entry, never a lost message.
    await this.o.redis.xadd(dlq, '*', ...Object.entries(msg.fields).flat(), ...extra);
    await this.o.redis.xack(this.key, this.o.group, msg.id);
  }
}
