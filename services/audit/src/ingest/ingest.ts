// The ingest pipeline (R-AUD-2), one stream read at a time: parse and canonicalise each message, group by zone,
// append each zone's events in one transaction under its advisory lock, publish the zone's signed head (to Redis,
// then its record in Postgres), and only then report the messages done (the consumer acknowledges after commit).
// Zones commit in parallel; a zone's events keep their stream order.
import type { KeyObject } from 'node:crypto';
import { withZone, type Pool } from '@caracal/db';
import { appendZoneBatch, ChainBehindHead, headSignatureValid, parseAuditMessage, publishChainHead, readHead, signHead, type LedgerEvent } from '@caracal/ledger';
import type { Logger } from '@caracal/logging';
import type { Outcome, StreamKeys, StreamMessage } from '@caracal/streams';
import type { Redis } from 'ioredis';
import type { AuditMetrics } from '../metrics.js';
import { isDataError } from './db-errors.js';
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
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

type Item = { msg: StreamMessage; event: LedgerEvent };

const dlq = (reason: string, detail: string): Outcome => ({ kind: 'dlq', reason, detail });

export function createIngest(d: IngestDeps) {
  const now = d.now ?? (() => new Date());
  const sleep = d.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  /** One zone's events in one transaction; returns an outcome per message. */
  async function appendZone(zoneId: string, items: readonly Item[], out: Map<string, Outcome>): Promise<void> {
    // The published head is read before the lock is taken; the append refuses a table that no longer reaches it.
    const head = await readHead(d.redis, d.keys, zoneId);
    if (head && !headSignatureValid(d.key, head)) throw new ChainBehindHead(zoneId, -1, head.seq);
    const result = await withZone(d.pool, zoneId, (c) => appendZoneBatch(c, d.key, zoneId, items.map((i) => i.event), now(), head));
    items.forEach(({ msg, event }, i) => {
      if (result.status[i] === 'conflict') {
        d.metrics.conflicts.inc();
        d.logger.error({ alert: 'audit_event_id_conflict', zone_id: zoneId, event_id: event.event_id, stream_id: msg.id }, 'an event id already in the ledger arrived with different content');
        out.set(msg.id, dlq('duplicate_event_id', `event ${event.event_id} is already in the ledger with different content`));
      } else out.set(msg.id, { kind: 'done' });
    });
    d.metrics.appended.inc(result.appended.length);
    d.metrics.duplicates.inc(result.status.filter((s) => s === 'duplicate').length);
    if (result.head) {
      const head = signHead(d.key, { zone_id: zoneId, seq: result.head.seq, content_sha256: result.head.content_sha256, published_at: now().toISOString() });
      // The rows are committed; a head that fails to publish (or to be recorded) is caught up by the zone's next append.
      await publishChainHead(d.redis, d.keys, d.pool, head).catch((err: Error) => d.logger.warn({ zone_id: zoneId, err: { message: err.message } }, 'chain head not published'));
    }
  }

  /** A zone the database does not know gets its events dead-lettered (replayable once the zone exists). */
  async function appendKnownZone(zoneId: string, items: readonly Item[], out: Map<string, Outcome>): Promise<void> {
    let known: boolean;
    try {
      known = await d.zones.has(zoneId);
    } catch (error) {
      for (const { msg } of items) out.set(msg.id, { kind: 'retry', error });
      return;
    }
    if (!known) for (const { msg } of items) out.set(msg.id, dlq('unknown_zone', `zone ${zoneId} does not exist`));
    else await appendZoneSafely(zoneId, items, out);
  }

  /**
   * A zone's batch, retried through outages. An error caused by the data is narrowed to the event behind it; a
   * batch that keeps failing otherwise (say, too large to commit before the statement timeout) is split in halves,
   * in order. One event that keeps failing that way is retried until the database takes it.
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

  // Reads may be handled concurrently; a zone's appends still run one after another, in stream order: each read
  // takes its place in its zones' queues synchronously, before anything is awaited.
  const tails = new Map<string, Promise<void>>();
  function inOrder(zoneId: string, items: readonly Item[], out: Map<string, Outcome>): Promise<void> {
    const run = (tails.get(zoneId) ?? Promise.resolve()).then(() => appendKnownZone(zoneId, items, out));
    const tail = run.catch(() => undefined);
    tails.set(zoneId, tail);
    void tail.then(() => tails.get(zoneId) === tail && tails.delete(zoneId));
    return run;
  }

  return async function handleBatch(msgs: readonly StreamMessage[]): Promise<Map<string, Outcome>> {
    const out = new Map<string, Outcome>();
    const byZone = new Map<string, Item[]>();
    for (const msg of msgs) {
      const parsed = parseAuditMessage(msg.fields, d.hmacKeyHex, d.maxEventBytes);
      if (!parsed.ok) {
        out.set(msg.id, dlq(parsed.reason, parsed.detail));
        continue;
      }
      const list = byZone.get(parsed.event.zone_id) ?? [];
      list.push({ msg, event: parsed.event });
      byZone.set(parsed.event.zone_id, list);
    }
    const started = process.hrtime.bigint();
    await Promise.all([...byZone].map(([zoneId, items]) => inOrder(zoneId, items, out)));
    d.metrics.batchSeconds.set(Number(process.hrtime.bigint() - started) / 1e9);
    for (const o of out.values()) if (o.kind === 'dlq') d.metrics.deadLettered.inc({ reason: o.reason });
    return out;
  };
}
