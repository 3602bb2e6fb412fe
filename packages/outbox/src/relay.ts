// The outbox relay (R-STR-5): publishes what transactions wrote to the outbox, zone by zone, in batches taken with
// FOR UPDATE SKIP LOCKED, and marks them published in the same transaction. A message Redis or the signing refuses
// is retried with exponential backoff and is dead after `maxAttempts`; one that cannot reach Redis counts no
// attempt: the relay backs off and sends it again later. Delivery is at least once: a relay that dies between its XADDs and
// its commit leaves the rows unpublished, and they are sent again with the same `event_id`, the field every message
// carries for consumers to deduplicate on (today's consumers apply messages idempotently instead).
import { withZone, type Pool, type PoolClient } from '@caracal/db';
import { backoffMs, type Backoff } from './backoff.js';
import { EVENT_ID_FIELD } from './enqueue.js';
import { UnreachedError, type OutboxMessage, type Publish } from './publisher.js';
import { markFailed, markPublished, oldestPendingAgeMs, prunePublished, takeDue, takeEvents, zoneIds, type DueRow, type Failure } from './repo.js';

export interface RelaySettings {
  /** Rows taken (and locked) per transaction. */
  batchSize: number;
  /** Attempts refused by Redis or the signing after which an event is dead (never retried). */
  maxAttempts: number;
  backoff: Backoff;
  /** How often every zone is looked at, besides the flush a request runs after committing messages. */
  pollIntervalMs: number;
  /** Published rows older than this are deleted. */
  retentionSeconds: number;
}

export type RelayLog = (level: 'info' | 'warn', msg: string, detail: Record<string, unknown>) => void;

/** Why the relay cannot publish at all (no key to sign with): it then only measures the backlog. */
export interface NoPublish {
  reason: string;
}

export interface RelayOptions extends RelaySettings {
  pool: Pool;
  publish: Publish | NoPublish;
  log?: RelayLog;
  now?: () => number;
}

/** Per-stream counts since the process started. */
export interface RelayCounts {
  published: Map<string, number>;
  failed: Map<string, number>;
  dead: Map<string, number>;
}

/** Published rows deleted per transaction. */
const PRUNE_BATCH = 1000;
/** Prune transactions per zone in one pass; a zone with more to delete goes on in the next pass. */
const PRUNE_BATCHES_PER_PASS = 20;
/** Published rows are pruned at most this often, not on every pass, unless the last pruning was cut short. */
const PRUNE_EVERY_MS = 60_000;
const ERROR_MAX = 500;

type StreamFailure = Failure & { stream: string; attempts: number };

interface BatchOutcome {
  published: DueRow[];
  failures: StreamFailure[];
  /** Why some messages of the batch did not reach Redis (their rows are left as they were), if any did not. */
  unreached: string | undefined;
}

const bump = (m: Map<string, number>, stream: string) => m.set(stream, (m.get(stream) ?? 0) + 1);

export class OutboxRelay {
  readonly counts: RelayCounts = { published: new Map(), failed: new Map(), dead: new Map() };
  private backlog: { ageMs: number | null; at: number } | undefined;
  private startedAt: number | undefined;
  private prunedAt = -Infinity;
  /** Redis could not be reached: batches wait until `until`, backing off after each further failure. */
  private outage: { failures: number; until: number; error: string } | undefined;
  private idleLogged = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly now: () => number;
  /** How batches are sent; undefined when the relay cannot publish at all (`idleReason` says why). */
  private readonly send: Publish | undefined;
  private readonly idleReason: string | undefined;

  constructor(private readonly opts: RelayOptions) {
    this.now = opts.now ?? Date.now;
    this.send = typeof opts.publish === 'function' ? opts.publish : undefined;
    this.idleReason = typeof opts.publish === 'function' ? undefined : opts.publish.reason;
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
   * Publishes the given events of the zone now, so that while Redis is reachable a change's messages are on their
   * streams when its request answers. An event another relay is publishing is waited for, not skipped. Never
   * throws: what could not be published stays queued for the retries and the poll.
   */
  async flush(zoneId: string, eventIds: readonly string[]): Promise<void> {
    if (!this.send) return;
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

  /** Why the relay is not publishing now (nothing to sign with, or Redis unreachable), or undefined while it is. */
  notPublishing(): string | undefined {
    if (this.idleReason !== undefined) return this.idleReason;
    return this.outage && this.backingOff() ? `Redis cannot be reached (${this.outage.error}); retrying with backoff` : undefined;
  }

  /** One pass over every zone, now: what the poll runs; tests call it directly. */
  async runPass(): Promise<void> {
    if (this.idleReason !== undefined && !this.idleLogged) {
      this.idleLogged = true;
      this.opts.log?.('warn', 'outbox relay publishes nothing; events stay queued', { reason: this.idleReason });
    }
    const zones = await zoneIds(this.opts.pool);
    const prune = this.now() - this.prunedAt >= PRUNE_EVERY_MS;
    let pruned = true;
    let oldest: number | null = null;
    for (const zone of zones) {
      const age = this.send && !this.backingOff() ? await this.drainZone(zone) : await withZone(this.opts.pool, zone, oldestPendingAgeMs);
      if (age !== null) oldest = Math.max(oldest ?? 0, age);
      if (prune) pruned = (await this.pruneZone(zone)) && pruned;
    }
    if (prune && pruned) this.prunedAt = this.now();
    this.backlog = { ageMs: oldest, at: this.now() };
  }

  /** Publishes the zone's due events batch by batch while batches come back full, make progress and reach Redis. */
  async drainZone(zoneId: string): Promise<number | null> {
    for (;;) {
      const r = await this.relayBatch(zoneId);
      if (r.taken < this.opts.batchSize || r.published === 0 || r.unreached || this.stopping) return r.oldestAgeMs;
    }
  }

  /** One batch in one zone transaction: take the due rows, publish them, record each outcome, commit. */
  async relayBatch(
    zoneId: string,
    take = (c: PoolClient) => takeDue(c, this.opts.batchSize),
  ): Promise<{ taken: number; published: number; unreached: boolean; oldestAgeMs: number | null }> {
    const batch = await withZone(this.opts.pool, zoneId, async (c) => {
      const rows = await take(c);
      const outcome: BatchOutcome = rows.length > 0 && this.send ? await this.publishRows(c, rows, this.send) : { published: [], failures: [], unreached: undefined };
      return { taken: rows.length, ...outcome, oldestAgeMs: await oldestPendingAgeMs(c) };
    });
    // Counted once the outcome is committed: a batch rolled back is sent again and counted then.
    this.count(batch.published, batch.failures);
    if (batch.taken > 0) this.noteReach(batch.unreached);
    return { taken: batch.taken, published: batch.published.length, unreached: batch.unreached !== undefined, oldestAgeMs: batch.oldestAgeMs };
  }

  private backingOff(): boolean {
    return this.outage !== undefined && this.now() < this.outage.until;
  }

  /** Starts, extends or ends an outage after a batch: one that did not reach Redis waits longer each time. */
  private noteReach(unreached: string | undefined): void {
    if (unreached === undefined) {
      if (this.outage) this.opts.log?.('info', 'outbox relay reaches Redis again', { failed_batches: this.outage.failures });
      this.outage = undefined;
      return;
    }
    const failures = (this.outage?.failures ?? 0) + 1;
    if (failures === 1) this.opts.log?.('warn', 'Redis cannot be reached; the outbox relay backs off without counting attempts', { err: { message: unreached } });
    this.outage = { failures, until: this.now() + backoffMs(failures, this.opts.backoff), error: unreached };
  }

  /** Deletes the zone's published rows past retention, batch by batch; false when it stopped with more to delete. */
  private async pruneZone(zoneId: string): Promise<boolean> {
    for (let i = 0; i < PRUNE_BATCHES_PER_PASS && !this.stopping; i++) {
      const deleted = await withZone(this.opts.pool, zoneId, (c) => prunePublished(c, this.opts.retentionSeconds, PRUNE_BATCH));
      if (deleted < PRUNE_BATCH) return true;
    }
    return false;
  }

  private tick(): void {
    if (this.running || this.stopping) return;
    this.running = this.runPass()
      .catch((err: Error) => this.opts.log?.('warn', 'outbox relay pass failed; retrying', { err: { message: err.message } }))
      .finally(() => (this.running = undefined));
  }

  /** Marks what was published and counts an attempt on what Redis or the signing refused; unreached rows stay as they were. */
  private async publishRows(c: PoolClient, rows: readonly DueRow[], send: Publish): Promise<BatchOutcome> {
    const messages: OutboxMessage[] = rows.map((r) => ({ id: r.id, stream: r.stream, fields: { ...r.payload, [EVENT_ID_FIELD]: r.id } }));
    let answers: Array<Error | undefined>;
    try {
      answers = await send(messages);
    } catch (err) {
      answers = rows.map(() => new UnreachedError((err as Error)?.message || String(err)));
    }
    const published: DueRow[] = [];
    const failures: StreamFailure[] = [];
    let unreached: string | undefined;
    rows.forEach((row, i) => {
      const err = answers[i];
      if (!err) return void published.push(row);
      if (err instanceof UnreachedError) return void (unreached ??= err.message.slice(0, ERROR_MAX));
      const attempts = row.attempts + 1;
      const error = (err.message || String(err)).slice(0, ERROR_MAX);
      failures.push({ id: row.id, stream: row.stream, attempts, error, waitMs: backoffMs(attempts, this.opts.backoff), dead: attempts >= this.opts.maxAttempts });
    });
    await markPublished(c, published.map((r) => r.id));
    await markFailed(c, failures);
    return { published, failures, unreached };
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
