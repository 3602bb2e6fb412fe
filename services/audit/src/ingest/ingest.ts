// The ingest pipeline (R-AUD-2): parse and canonicalise each message, group by zone, append each zone's events in
// one transaction under its advisory lock, publish the zone's signed head to Redis, and only then report the
// messages done (the consumer acknowledges after commit). Reads are appended one group at a time, in stream order;
// the reads that arrive while a group is being appended go in together with the next one. Every zone whose chain
// tip this process left is appended by one statement for the whole group (appendFromTips); any other zone, or one
// whose table moved, takes the two-step append that reads its tip under the lock, zones in parallel. A head's
// record in Postgres (its mark) rides with the zone's next append, or is written on its own when none follows soon.
import type { KeyObject } from 'node:crypto';
import { withZone, type Pool } from '@caracal/db';
import {
  appendFromTips,
  appendZoneBatch,
  ChainBehindHead,
  headSignatureValid,
  parseAuditMessage,
  publishHeads,
  readHead,
  readHeads,
  recordHeadMark,
  signHead,
  type AppendResult,
  type ChainHead,
  type ChainTip,
  type LedgerEvent,
  type TipBatch,
} from '@caracal/ledger';
import type { Logger } from '@caracal/logging';
import type { Outcome, StreamKeys, StreamMessage } from '@caracal/streams';
import type { Redis } from 'ioredis';
import type { AuditMetrics } from '../metrics.js';
import { isDataError } from './db-errors.js';
import { keepStatistics } from './statistics.js';
import type { ZoneDirectory } from './zone-directory.js';

export interface IngestDeps {
  pool: Pool;
  redis: Redis;
  keys: StreamKeys;
  key: KeyObject;
  hmacKeyHex: string;
  zones: ZoneDirectory;
  metrics: AuditMetrics;
  logger: Logger;
  maxEventBytes: number;
  /** Stops retrying a batch during an outage when the service shuts down. */
  stopping: () => boolean;
  /** At most this many events in one group when reads queue up behind an append (a single read may be larger). */
  groupLimit?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

type Item = { msg: StreamMessage; event: LedgerEvent };
/** A read's events, by zone, waiting for their group's append. */
type Waiting = { byZone: Map<string, Item[]>; size: number; out: Map<string, Outcome>; done: () => void; failed: (err: unknown) => void };

/** How long a published head's mark waits for the zone's next append before it is written on its own. */
const MARK_LINGER_MS = 100;
/** From this many events a group's one-statement append is split in two statements that run side by side. */
const SPLIT_AT = 200;

/** Zones in two parts of about equal events when there are at least `min` events and two zones; else one part. */
function splitByEvents(batches: readonly TipBatch[], min: number): TipBatch[][] {
  const total = batches.reduce((n, b) => n + b.events.length, 0);
  if (total < min || batches.length < 2) return [[...batches]];
  const parts: [TipBatch[], TipBatch[]] = [[], []];
  const sizes = [0, 0];
  for (const b of [...batches].sort((x, y) => y.events.length - x.events.length)) {
    const i = sizes[0]! <= sizes[1]! ? 0 : 1;
    parts[i].push(b);
    sizes[i]! += b.events.length;
  }
  return parts;
}

const dlq = (reason: string, detail: string): Outcome => ({ kind: 'dlq', reason, detail });

export function createIngest(d: IngestDeps) {
  const now = d.now ?? (() => new Date());
  const sleep = d.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  // What this process knows of each zone it appends to: the tip its own last append left, and the last head it
  // published whose mark is not recorded yet. The tip is only a hint: under the zone's lock the database decides
  // whether the table still ends there, and anything else takes the two-step append that reads the tip itself.
  const tips = new Map<string, ChainTip>();
  const marks = new Map<string, { head: ChainHead; at: number }>();
  let markTimer: NodeJS.Timeout | undefined;
  const statistics = keepStatistics(d.pool, d.logger, d.metrics.partitionsAnalyzed);

  /** Outcomes, metrics and the new tip of one zone's committed append. */
  function settle(zoneId: string, items: readonly Item[], result: AppendResult, out: Map<string, Outcome>): ChainHead | undefined {
    items.forEach(({ msg, event }, i) => {
      if (result.status[i] === 'conflict') {
        d.metrics.conflicts.inc();
        d.logger.error({ alert: 'audit_event_id_conflict', zone_id: zoneId, event_id: event.event_id, stream_id: msg.id }, 'an event id already in the ledger arrived with different content');
        out.set(msg.id, dlq('duplicate_event_id', `event ${event.event_id} is already in the ledger with different content`));
      } else out.set(msg.id, { kind: 'done' });
    });
    d.metrics.appended.inc(result.appended.length);
    statistics.appended(result.appended.length);
    d.metrics.duplicates.inc(result.status.filter((s) => s === 'duplicate').length);
    if (!result.head) return undefined;
    tips.set(zoneId, result.head);
    return signHead(d.key, { zone_id: zoneId, seq: result.head.seq, content_sha256: result.head.content_sha256, published_at: now().toISOString() });
  }

  /**
   * Publishes committed heads in one round trip. A head that fails to publish is caught up by the zone's next
   * append. Its mark is recorded only once it is in Redis, so the Redis head is never behind the highest mark.
   */
  async function publish(heads: readonly ChainHead[]): Promise<void> {
    if (heads.length === 0) return;
    const errors = await publishHeads(d.redis, d.keys, heads);
    heads.forEach((head, i) => {
      const err = errors[i];
      if (err) d.logger.warn({ zone_id: head.zone_id, err: { message: err.message } }, 'chain head not published');
      else markLater(head.zone_id, head);
    });
  }

  /** One zone's events by the two-step append, in one transaction; returns an outcome per message. */
  async function appendZone(zoneId: string, items: readonly Item[], out: Map<string, Outcome>): Promise<void> {
    // The published head is read before the lock is taken; the append refuses a table that no longer reaches it.
    const head = await readHead(d.redis, d.keys, zoneId);
    if (head && !headSignatureValid(d.key, head)) throw new ChainBehindHead(zoneId, -1, head.seq);
    tips.delete(zoneId);
    await recordMark(zoneId);
    const result = await withZone(d.pool, zoneId, (c) =>
      appendZoneBatch(
        c,
        d.key,
        zoneId,
        items.map((i) => i.event),
        now(),
        head,
      ),
    );
    if (result.head) d.metrics.appends.inc({ path: 'two_step' });
    const signed = settle(zoneId, items, result, out);
    if (signed) await publish([signed]);
  }

  /**
   * The zones whose tip this process left, in one statement. Returns the zones it did not append: no tip here, a
   * published head the tip does not continue, a batch repeating an id, a table that moved, or a failed statement.
   */
  async function appendContinuing(byZone: ReadonlyMap<string, Item[]>, out: Map<string, Outcome>): Promise<string[]> {
    let heads: Map<string, ChainHead | null>;
    try {
      heads = await readHeads(d.redis, d.keys, [...byZone.keys()]);
    } catch {
      return [...byZone.keys()];
    }
    const rest: string[] = [];
    const batches: TipBatch[] = [];
    for (const [zoneId, items] of byZone) {
      const tip = tips.get(zoneId);
      const head = heads.get(zoneId);
      // Taken: only a successful append puts a tip back.
      tips.delete(zoneId);
      const continues = tip && (!head || (headSignatureValid(d.key, head) && (head.seq < tip.seq || (head.seq === tip.seq && head.content_sha256 === tip.content_sha256))));
      if (!continues || new Set(items.map((i) => i.event.event_id)).size !== items.length) rest.push(zoneId);
      else batches.push({ zoneId, events: items.map((i) => i.event), tip, mark: marks.get(zoneId)?.head ?? null });
    }
    if (batches.length === 0) return rest;
    // A large group goes in as two statements on two connections, zones split between them: a backlog is drained
    // by two backends, as the zone-by-zone append did. Each statement takes only its own zones' locks.
    const parts = splitByEvents(batches, SPLIT_AT);
    const done = await Promise.all(
      parts.map((part) =>
        appendFromTips(d.pool, d.key, part, now()).catch((err: Error) => {
          d.logger.debug({ err: { message: err.message } }, 'one-statement append failed; appending zone by zone');
          return new Map<string, AppendResult | null>();
        }),
      ),
    );
    const results = new Map(done.flatMap((m) => [...m]));
    const signed: ChainHead[] = [];
    for (const b of batches) {
      const result = results.get(b.zoneId);
      // The statement recorded the mark whether or not it appended; a failed statement recorded nothing.
      if (results.has(b.zoneId) && b.mark && marks.get(b.zoneId)?.head === b.mark) marks.delete(b.zoneId);
      if (!result) {
        rest.push(b.zoneId);
        continue;
      }
      d.metrics.appends.inc({ path: 'one_statement' });
      const head = settle(b.zoneId, byZone.get(b.zoneId)!, result, out);
      if (head) signed.push(head);
    }
    await publish(signed);
    return rest;
  }

  async function recordMark(zoneId: string): Promise<void> {
    const mark = marks.get(zoneId);
    if (!mark) return;
    await recordHeadMark(d.pool, mark.head);
    if (marks.get(zoneId) === mark) marks.delete(zoneId);
  }

  /** A published head's mark waits for the zone's next append, and is written on its own after MARK_LINGER_MS. */
  function markLater(zoneId: string, head: ChainHead): void {
    marks.set(zoneId, { head, at: Date.now() });
    markTimer ??= setTimeout(() => void recordDueMarks(), MARK_LINGER_MS);
  }

  const recordNow = (zoneIds: readonly string[]) =>
    Promise.all(zoneIds.map((zoneId) => recordMark(zoneId).catch((err: Error) => d.logger.warn({ zone_id: zoneId, err: { message: err.message } }, 'chain head mark not recorded'))));

  async function recordDueMarks(): Promise<void> {
    await recordNow([...marks].filter(([, m]) => Date.now() - m.at >= MARK_LINGER_MS).map(([zoneId]) => zoneId));
    markTimer = marks.size > 0 ? setTimeout(() => void recordDueMarks(), MARK_LINGER_MS) : undefined;
  }

  /** On shutdown: records every pending mark now and waits for a statistics refresh in progress. */
  async function close(): Promise<void> {
    clearTimeout(markTimer);
    markTimer = undefined;
    await recordNow([...marks.keys()]);
    await statistics.idle();
  }

  /**
   * A zone's batch by the two-step append, retried through outages. An error caused by the data is narrowed to the
   * event behind it; a batch that keeps failing otherwise (say, too large to commit before the statement timeout)
   * is split in halves, in order. One event that keeps failing that way is retried until the database takes it.
   */
  async function appendZoneSafely(zoneId: string, items: readonly Item[], out: Map<string, Outcome>): Promise<void> {
    let dataError = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return await appendZone(zoneId, items, out);
      } catch (err) {
        if (err instanceof ChainBehindHead) {
          // Evidence is kept (DLQ, replayable) but the zone is not extended over rows that went missing.
          d.logger.error({ alert: 'audit_chain_behind_head', zone_id: zoneId, tip_seq: err.tipSeq, head_seq: err.headSeq }, 'the ledger no longer reaches its published head; not appending');
          for (const { msg } of items) out.set(msg.id, dlq('chain_behind_head', err.message));
          return;
        }
        if (isDataError(err)) {
          dataError = true;
          break;
        }
        if (d.stopping()) {
          for (const { msg } of items) out.set(msg.id, { kind: 'retry', error: err });
          return;
        }
        if (attempt === 0) d.logger.warn({ zone_id: zoneId, err: { message: (err as Error).message } }, 'ledger append failed; retrying until the database takes it');
        if (attempt >= 2 && items.length > 1) break;
        await sleep(Math.min(100 * 2 ** attempt, 5000));
      }
    }
    if (items.length === 1) {
      const { msg } = items[0]!;
      return void out.set(msg.id, dlq('rejected_by_database', 'the database refused this event'));
    }
    const parts = dataError ? items.map((i) => [i]) : [items.slice(0, items.length >> 1), items.slice(items.length >> 1)];
    for (const part of parts) await appendZoneSafely(zoneId, part, out);
  }

  /** One group's events: unknown zones dead-lettered (replayable once the zone exists), the rest appended. */
  async function appendGroup(byZone: ReadonlyMap<string, Item[]>, out: Map<string, Outcome>): Promise<void> {
    const known = new Map<string, Item[]>();
    await Promise.all(
      [...byZone].map(async ([zoneId, items]) => {
        try {
          if (await d.zones.has(zoneId)) known.set(zoneId, items);
          else for (const { msg } of items) out.set(msg.id, dlq('unknown_zone', `zone ${zoneId} does not exist`));
        } catch (error) {
          for (const { msg } of items) out.set(msg.id, { kind: 'retry', error });
        }
      }),
    );
    if (known.size === 0) return;
    const rest = await appendContinuing(known, out);
    await Promise.all(rest.map((zoneId) => appendZoneSafely(zoneId, known.get(zoneId)!, out)));
  }

  // Reads may be handled concurrently; groups are appended one after another, in stream order: each read takes its
  // place in the queue synchronously, before anything is awaited, and a zone's events keep their order in a group.
  const groupLimit = d.groupLimit ?? 1000;
  const waiting: Waiting[] = [];
  let draining = false;
  function enqueue(byZone: Map<string, Item[]>, size: number, out: Map<string, Outcome>): Promise<void> {
    return new Promise<void>((done, failed) => {
      waiting.push({ byZone, size, out, done, failed });
      if (!draining) void drain();
    });
  }
  async function drain(): Promise<void> {
    draining = true;
    while (waiting.length > 0) {
      let size = waiting[0]!.size;
      let take = 1;
      while (take < waiting.length && size + waiting[take]!.size <= groupLimit) size += waiting[take++]!.size;
      const group = waiting.splice(0, take);
      const byZone = new Map<string, Item[]>();
      for (const w of group) for (const [zoneId, items] of w.byZone) byZone.set(zoneId, [...(byZone.get(zoneId) ?? []), ...items]);
      const outcomes = new Map<string, Outcome>();
      try {
        await appendGroup(byZone, outcomes);
        for (const w of group) {
          for (const items of w.byZone.values()) for (const { msg } of items) w.out.set(msg.id, outcomes.get(msg.id)!);
          w.done();
        }
      } catch (err) {
        for (const w of group) w.failed(err);
      }
    }
    draining = false;
  }

  async function handleBatch(msgs: readonly StreamMessage[]): Promise<Map<string, Outcome>> {
    const out = new Map<string, Outcome>();
    const byZone = new Map<string, Item[]>();
    let size = 0;
    for (const msg of msgs) {
      const parsed = parseAuditMessage(msg.fields, d.hmacKeyHex, d.maxEventBytes);
      if (!parsed.ok) {
        out.set(msg.id, dlq(parsed.reason, parsed.detail));
        continue;
      }
      const list = byZone.get(parsed.event.zone_id) ?? [];
      list.push({ msg, event: parsed.event });
      byZone.set(parsed.event.zone_id, list);
      size++;
    }
    const started = process.hrtime.bigint();
    if (size > 0) await enqueue(byZone, size, out);
    d.metrics.batchSeconds.set(Number(process.hrtime.bigint() - started) / 1e9);
    for (const o of out.values()) if (o.kind === 'dlq') d.metrics.deadLettered.inc({ reason: o.reason });
    return out;
  }

  return { handleBatch, close };
}
