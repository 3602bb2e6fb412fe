// The outbox relay (R-STR-5): publishes what transactions wrote to the outbox, zone by zone, in batches taken with
// FOR UPDATE SKIP LOCKED, and marks them published in the same transaction. A failed publish is retried with
// exponential backoff and the event is dead after `maxAttempts`. Delivery is at least once: a relay that dies
// between its XADDs and its commit leaves the rows unpublished, and they are sent again; consumers recognise a
// repeat by its `event_id`.
import { withZone, type Pool, type PoolClient } from '@caracal/db';
import { backoffMs, type Backoff } from './backoff.js';
import { EVENT_ID_FIELD } from './enqueue.js';
import type { OutboxMessage, Publish } from './publisher.js';
import { markFailed, markPublished, oldestPendingAgeMs, prunePublished, takeDue, takeEvents, zoneIds, type DueRow, type Failure } from './repo.js';

export interface RelaySettings {
  /** Rows taken (and locked) per transaction. */
  batchSize: number;
  /** Failed attempts after which an event is dead (never retried). */
  maxAttempts: number;
  backoff: Backoff;
  /** How often every zone is looked at, besides the flush a request runs after committing messages. */
  pollIntervalMs: number;
  /** Published rows older than this are deleted. */
  retentionSeconds: number;
}

export type RelayLog = (level: 'info' | 'warn', msg: string, detail: Record<string, unknown>) => void;

export interface RelayOptions extends RelaySettings {
  pool: Pool;
  publish: Publish;
  log?: RelayLog;
  now?: () => number;
}

/** Per-stream counts since the process started. */
export interface RelayCounts {
  published: Map<string, number>;
  failed: Map<string, number>;
  dead: Map<string, number>;
}

const PRUNE_LIMIT = 1000;
/** Published rows are pruned at most this often, not on every pass. */
const PRUNE_EVERY_MS = 60_000;
const ERROR_MAX = 500;

type StreamFailure = Failure & { stream: string; attempts: number };

const bump = (m: Map<string, number>, stream: string) => m.set(stream, (m.get(stream) ?? 0) + 1);

export class OutboxRelay {
  readonly counts: RelayCounts = { published: new Map(), failed: new Map(), dead: new Map() };
  private backlog: { ageMs: number | null; at: number } | undefined;
  private startedAt: number | undefined;
  private prunedAt = -Infinity;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly now: () => number;

  constructor(private readonly opts: RelayOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** A pass over every zone at once, then one every poll interval (a pass still running skips the tick). */
  start(): void {
    this.startedAt = this.now();
    this.timer = setInterval(() => this.tick(), this.opts.pollIntervalMs);
    this.timer.unref();
    this.tick();
  }

  /** Stops polling; the batch in flight finishes (published, or rolled back and sent again later). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * Publishes the given events of the zone now, so a change's messages are on their streams when its request
   * answers, as a direct XADD would have put them there. An event another relay is publishing is waited for, not
   * skipped. Never throws: what could not be published stays queued for the retries and the poll.
   */
  async flush(zoneId: string, eventIds: readonly string[]): Promise<void> {
    try {
      for (let i = 0; i < eventIds.length; i += this.opts.batchSize) {
        const ids = eventIds.slice(i, i + this.opts.batchSize);
        await this.relayBatch(zoneId, (c) => takeEvents(c, ids));
      }
    } catch (err) {
      this.opts.log?.('warn', 'outbox flush failed; the relay retries', { zone_id: zoneId, err: { message: (err as Error).message } });
    }
  }

  /** Age of the oldest unpublished event as of now, from the last full pass; 0 when it saw none (or none ran yet). */
  backlogAgeMs(): number {
    if (!this.backlog || this.backlog.ageMs === null) return 0;
    return this.backlog.ageMs + (this.now() - this.backlog.at);
  }

  /** Time since the last full pass completed (or since start): passes that keep failing hide any backlog. */
  sinceFullPassMs(): number {
    const at = this.backlog?.at ?? this.startedAt;
    return at === undefined ? 0 : this.now() - at;
  }

  /** One pass over every zone, now: what the poll runs; tests call it directly. */
  async runPass(): Promise<void> {
    const zones = await zoneIds(this.opts.pool);
    const prune = this.now() - this.prunedAt >= PRUNE_EVERY_MS;
    let oldest: number | null = null;
    for (const zone of zones) {
      const age = await this.drainZone(zone);
      if (age !== null) oldest = Math.max(oldest ?? 0, age);
      if (prune) await withZone(this.opts.pool, zone, (c) => prunePublished(c, this.opts.retentionSeconds, PRUNE_LIMIT));
    }
    if (prune) this.prunedAt = this.now();
    this.backlog = { ageMs: oldest, at: this.now() };
  }

  /** Publishes the zone's due events batch by batch while batches come back full and make progress. */
  async drainZone(zoneId: string): Promise<number | null> {
    for (;;) {
      const r = await this.relayBatch(zoneId);
      if (r.taken < this.opts.batchSize || r.published === 0 || this.stopping) return r.oldestAgeMs;
    }
  }

  /** One batch in one zone transaction: take the due rows, publish them, record each outcome, commit. */
  async relayBatch(zoneId: string, take = (c: PoolClient) => takeDue(c, this.opts.batchSize)): Promise<{ taken: number; published: number; oldestAgeMs: number | null }> {
    const batch = await withZone(this.opts.pool, zoneId, async (c) => {
      const rows = await take(c);
      const outcome = rows.length > 0 ? await this.publishRows(c, rows) : { published: [], failures: [] };
      return { taken: rows.length, ...outcome, oldestAgeMs: await oldestPendingAgeMs(c) };
    });
    // Counted once the outcome is committed: a batch rolled back is sent again and counted then.
    this.count(batch.published, batch.failures);
    return { taken: batch.taken, published: batch.published.length, oldestAgeMs: batch.oldestAgeMs };
  }

  private tick(): void {
    if (this.running || this.stopping) return;
    this.running = this.runPass()
      .catch((err: Error) => this.opts.log?.('warn', 'outbox relay pass failed; retrying', { err: { message: err.message } }))
      .finally(() => (this.running = undefined));
  }

  private async publishRows(c: PoolClient, rows: readonly DueRow[]): Promise<{ published: DueRow[]; failures: StreamFailure[] }> {
    const messages: OutboxMessage[] = rows.map((r) => ({ id: r.id, stream: r.stream, fields: { ...r.payload, [EVENT_ID_FIELD]: r.id } }));
    let answers: Array<Error | undefined>;
    try {
      answers = await this.opts.publish(messages);
    } catch (err) {
      answers = rows.map(() => err as Error);
    }
    const published: DueRow[] = [];
    const failures: StreamFailure[] = [];
    rows.forEach((row, i) => {
      const err = answers[i];
      if (!err) return void published.push(row);
      const attempts = row.attempts + 1;
      const error = (err.message || String(err)).slice(0, ERROR_MAX);
      failures.push({ id: row.id, stream: row.stream, attempts, error, waitMs: backoffMs(attempts, this.opts.backoff), dead: attempts >= this.opts.maxAttempts });
    });
    await markPublished(c, published.map((r) => r.id));
    await markFailed(c, failures);
    return { published, failures };
  }

  private count(published: readonly DueRow[], failures: readonly StreamFailure[]): void {
    for (const row of published) bump(this.counts.published, row.stream);
    for (const f of failures) {
      bump(this.counts.failed, f.stream);
      if (!f.dead) continue;
      bump(this.counts.dead, f.stream);
      this.opts.log?.('warn', 'outbox event is dead: no further attempts', { event_id: f.id, stream: f.stream, attempts: f.attempts, err: { message: f.error } });
    }
    if (failures.length > 0) this.opts.log?.('warn', 'outbox events not published; retrying with backoff', { failed: failures.length, err: { message: failures[0]!.error } });
  }
}
