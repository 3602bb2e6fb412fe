// The STS process's in-memory view of authority contexts: the answer of authority_context_keyed for a call without
// a graph (every direct exchange and every gateway decision), kept per zone and dropped when PostgreSQL announces a
// change in that zone (migration 0026). Only complete allowing contexts are kept (repository.ts decides), so a
// denial is always read again from the store.
//
// How the view stays true:
// - One pooled connection LISTENs on caracal_authority. PostgreSQL delivers a notification when the writing
//   transaction commits, to every listening connection, so every STS process learns every change, whichever
//   service or operator made it.
// - A read from the store takes a mark of the zone first; its answer is kept only if no notification of that zone
//   arrived in between. A change committed while the read ran therefore never outlives the read in memory.
// - The connection proves itself: every `staleMs / 4` it notifies a channel of its own. A notification reaches a
//   listener after every notification committed before it, so when the proof sent at t arrives, every change
//   committed before t has been applied here. Past `staleMs` without a proof, and whenever the connection is lost,
//   nothing is served from memory: every context is read from the store (correct, only slower) until the
//   connection listens again, and a new connection starts from an empty view.
// - '*' (a TRUNCATE, or any migration the runner applies) or any payload that is not a zone id empties the view.
// - A proof counts only if the same statement found migration 0026's triggers in place and firing always: against a
//   database without them (an upgrade whose migrations have not run yet) or with one disabled, nothing would ever be
//   announced, so the view drops everything and serves nothing until they are back.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AUTHORITY_CHANNEL, type Pool, type PoolClient } from '@caracal/db';
import type { Logger } from '@caracal/logging';
import type { Notification } from 'pg';
import { BoundedCache } from './bounded-cache.js';

/** The tables whose changes migration 0026 announces, each with a row trigger and a TRUNCATE trigger. */
const ANNOUNCED_TABLES = ['applications', 'resources', 'grants', 'revocations', 'authority_sessions'];
const ANNOUNCING_TRIGGERS = ANNOUNCED_TABLES.flatMap((t) => [`${t}.${t}_authority_changed`, `${t}.${t}_authority_truncated`]);

// The probe: a notification to this process's own channel, and whether every announcing trigger is on its table,
// calls caracal.authority_changed() and fires ALWAYS ('A': also under session_replication_role = replica).
const PROBE = `SELECT pg_notify($1, $2),
                      (SELECT count(*) FROM pg_catalog.pg_trigger t
                         JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
                         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'caracal' AND c.relname || '.' || t.tgname = ANY ($3::text[])
                          AND t.tgfoid = to_regproc('caracal.authority_changed') AND t.tgenabled = 'A')
                        = cardinality($3::text[]) AS armed`;

/** A zone id as the triggers send it; any other payload drops every zone. */
const ZONE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Probe {
  sentAt: number;
  /** The triggers were found in place by the probe's statement. */
  armed?: boolean;
  /** The probe's notification came back. */
  arrived?: boolean;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

export interface AuthorityViewOptions {
  pool: Pool;
  logger: Logger;
  /** Largest number of contexts kept; least recently used goes first. */
  maxEntries: number;
  /** Past this age of the connection's last proof, nothing is served from memory. */
  staleMs: number;
  /** Longest a context is kept even when nothing announces a change. */
  ttlMs: number;
  /** A monotonic clock in ms: a step of the wall clock must not make an old proof look recent. */
  now?: () => number;
}

/** The zone's state when a read from the store began; the answer is kept only if it is still the same. */
export type ViewMark = string;

export class AuthorityView<V extends object> {
  private readonly cache: BoundedCache<V>;
  private readonly zoneEpochs = new Map<string, number>();
  private epoch = 0;
  private client: PoolClient | undefined;
  /** When the last proof that arrived was sent; 0 while none has arrived on the current connection. */
  private confirmedAt = 0;
  private readonly probeChannel = `caracal_authority_probe_${randomBytes(8).toString('hex')}`;
  private readonly probes = new Map<string, Probe>();
  private disarmed = false;
  private probeSeq = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retries = 0;
  private stopped = false;
  /** Bumped by every start and stop: a connection attempt of an earlier generation gives its connection back. */
  private generation = 0;
  private readonly now: () => number;

  constructor(private readonly o: AuthorityViewOptions) {
    this.now = o.now ?? (() => performance.now());
    this.cache = new BoundedCache({ maxEntries: o.maxEntries, now: this.now });
  }

  /** Whether contexts may be served from memory now. */
  fresh(): boolean {
    return this.client !== undefined && this.confirmedAt > 0 && this.now() - this.confirmedAt <= this.o.staleMs;
  }

  /** When the last proof that came back was sent (on the view's monotonic clock); 0 while none has on this connection. */
  get provenAt(): number {
    return this.confirmedAt;
  }

  get size(): number {
    return this.cache.size;
  }

  get(zoneId: string, key: string): V | undefined {
    return this.fresh() ? this.cache.get(`${zoneId}|${key}`) : undefined;
  }

  /** Taken before reading from the store; undefined while the view is not fresh (nothing will be kept). */
  mark(zoneId: string): ViewMark | undefined {
    return this.fresh() ? `${this.epoch}/${this.zoneEpochs.get(zoneId) ?? 0}` : undefined;
  }

  /** Keeps `value` (frozen) if the zone saw no change since `mark` and the view is still fresh. */
  put(zoneId: string, key: string, value: V, ttlMs: number, mark: ViewMark | undefined): void {
    if (mark === undefined || mark !== this.mark(zoneId)) return;
    const ttl = Math.min(ttlMs, this.o.ttlMs);
    if (ttl > 0) this.cache.set(`${zoneId}|${key}`, deepFreeze(value), ttl);
  }

  start(): void {
    if (!this.stopped && this.generation > 0) return;
    this.stopped = false;
    void this.listen(++this.generation);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.retryTimer);
    clearInterval(this.probeTimer);
    const client = this.client;
    this.detach();
    // The connection is closed, not returned: a pooled connection must not keep listening.
    client?.release(true);
  }

  private async listen(generation: number): Promise<void> {
    if (this.stopped || generation !== this.generation) return;
    let client: PoolClient | undefined;
    try {
      client = await this.o.pool.connect();
      const c = client;
      c.on('notification', (n) => this.onNotification(c, n));
      c.on('error', (err) => this.lost(c, err));
      c.on('end', () => this.lost(c, new Error('connection ended')));
      await c.query(`LISTEN ${AUTHORITY_CHANNEL}; LISTEN ${this.probeChannel}`);
    } catch (err) {
      client?.release(true);
      if (generation === this.generation) this.retry(err as Error);
      return;
    }
    if (this.stopped || generation !== this.generation) {
      client.release(true);
      return;
    }
    // Whatever was kept before this connection listened may have missed a change.
    this.invalidateAll();
    this.client = client;
    this.retries = 0;
    this.o.logger.info('authority view listening');
    this.probeTimer = setInterval(() => this.probe(), Math.max(10, Math.floor(this.o.staleMs / 4)));
    this.probe();
  }

  private probe(): void {
    const client = this.client;
    if (!client) return;
    // Proofs that never came back are forgotten; the view goes stale by itself meanwhile.
    for (const [k, p] of this.probes) if (this.now() - p.sentAt > this.o.staleMs * 4) this.probes.delete(k);
    const id = String(++this.probeSeq);
    const p: Probe = { sentAt: this.now() };
    this.probes.set(id, p);
    client.query<{ armed: boolean }>(PROBE, [this.probeChannel, id, ANNOUNCING_TRIGGERS]).then(
      (r) => {
        if (client !== this.client) return;
        if (r.rows[0]?.armed !== true) return this.disarm();
        if (this.disarmed) this.o.logger.info('authority view: the announcing triggers are in place again');
        this.disarmed = false;
        p.armed = true;
        this.proven(id, p);
      },
      (err: Error) => this.lost(client, err),
    );
  }

  private proven(id: string, p: Probe): void {
    if (!p.armed || !p.arrived) return;
    this.probes.delete(id);
    this.confirmedAt = Math.max(this.confirmedAt, p.sentAt);
  }

  /** The triggers are missing or do not fire always: nothing would be announced, so nothing is kept or served. */
  private disarm(): void {
    if (!this.disarmed) this.o.logger.warn('authority view: the triggers of migration 0026 are missing or do not fire always; contexts are read from the store');
    this.disarmed = true;
    this.confirmedAt = 0;
    this.probes.clear();
    this.invalidateAll();
  }

  private onNotification(client: PoolClient, n: Notification): void {
    if (client !== this.client) return;
    if (n.channel === this.probeChannel) {
      const p = this.probes.get(n.payload ?? '');
      if (!p) return;
      p.arrived = true;
      this.proven(n.payload!, p);
      return;
    }
    if (n.channel !== AUTHORITY_CHANNEL) return;
    const zone = n.payload ?? '';
    if (!ZONE_ID.test(zone)) {
      this.invalidateAll();
      return;
    }
    this.zoneEpochs.set(zone, (this.zoneEpochs.get(zone) ?? 0) + 1);
    this.cache.deleteWhere((key) => key.startsWith(`${zone}|`));
  }

  private lost(client: PoolClient, err: Error): void {
    if (client !== this.client) return;
    this.detach();
    client.release(err);
    if (!this.stopped) this.retry(err);
  }

  private detach(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.client = undefined;
    this.confirmedAt = 0;
    this.probes.clear();
    this.invalidateAll();
  }

  private invalidateAll(): void {
    // The new epoch outdates every mark, so the zones' own counters can start again.
    this.epoch++;
    this.zoneEpochs.clear();
    this.cache.clear();
  }

  private retry(err: Error): void {
    if (this.stopped) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.retries++);
    this.o.logger.warn({ err: { message: err.message }, retryMs: delay }, 'authority view not listening: contexts are read from the store');
    const generation = this.generation;
    this.retryTimer = setTimeout(() => void this.listen(generation), delay);
  }
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value) || ArrayBuffer.isView(value)) return value;
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}
