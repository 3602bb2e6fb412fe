// The transactional outbox against real Postgres and Redis (R-STR-5): a message exists only when its transaction
// commits; relays racing each other (two processes, or two batches held open at once) publish every event exactly
// once under FOR UPDATE SKIP LOCKED; a message Redis or the signing refuses is retried with backoff and dead after the
// last attempt, while a batch that cannot reach Redis counts no attempt and the relay backs off; a relay without a key
// publishes nothing; published rows are pruned past retention however many there are; a relay killed (SIGKILL)
// mid-batch and restarted publishes every event, and the repeats it sends carry the same event id.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, withZone, type Pool } from '../../../db/dist/index.js';
import { StreamKeys } from '../../../streams/dist/index.js';
import { adminQuery, createMigratedDatabase, type MigratedDatabase } from '../../../../test-support/db.js';
import { clearPrefix, redisUrl, testRedis, uniquePrefix } from '../../../../test-support/redis.js';
import { signedMessages } from '../../../../test-support/streams.js';
import { enqueue, enqueueAll, OutboxRelay, redisPublisher, type NoPublish, type Publish, type RelayLog, type RelaySettings } from '../../dist/index.js';

const RELAY_PROCESS = join(import.meta.dirname, '..', 'fixtures', 'relay-process.mjs');
const STREAM = 'caracal.delegations.invalidate';
const hmacKey = randomBytes(32).toString('hex');

let db: MigratedDatabase;
let pool: Pool;
let redis: Redis;
let prefix: string;
let keys: StreamKeys;
let zoneA: string;
let zoneB: string;

const settings = (over: Partial<RelaySettings> = {}): RelaySettings => ({
  batchSize: 10,
  maxAttempts: 3,
  backoff: { baseMs: 60_000, maxMs: 600_000 },
  pollIntervalMs: 60_000,
  retentionSeconds: 86_400,
  ...over,
});
const relayWith = (over: Partial<RelaySettings> & { publish?: Publish | NoPublish; pool?: Pool; now?: () => number; log?: RelayLog } = {}) =>
  new OutboxRelay({ pool: over.pool ?? pool, publish: over.publish ?? redisPublisher(redis, keys, hmacKey), now: over.now, log: over.log, ...settings(over) });

/** A client of a Redis nobody listens on (port 1), with the services' settings: a command fails at once. */
function unreachableRedis(): Redis {
  const r = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  return r;
}

const streamed = (stream = STREAM) => signedMessages(redis, prefix, stream, hmacKey);

const rows = async (where = 'true') =>
  (await adminQuery<{ id: string; attempts: number; published: boolean; dead: boolean; last_error: string | null; wait_s: number }>(
    db.adminUrl,
    `SELECT id, attempts, published_at IS NOT NULL AS published, dead_at IS NOT NULL AS dead, last_error,
            extract(epoch FROM next_attempt_at - clock_timestamp())::float8 AS wait_s
       FROM caracal.outbox WHERE ${where} ORDER BY created_at, id`,
  )).rows;

async function queue(zone: string, n: number, stream = STREAM): Promise<string[]> {
  return withZone(pool, zone, (c) => enqueueAll(c, stream, Array.from({ length: n }, (_, i) => ({ zone_id: zone, delegation_id: `d${i}`, event: 'revoked' }))));
}

async function reset(): Promise<void> {
  await adminQuery(db.adminUrl, 'DELETE FROM caracal.outbox');
  await clearPrefix(redis, prefix);
}

beforeAll(async () => {
  db = await createMigratedDatabase('outbox');
  pool = createPool({ connectionString: db.roleUrl('api'), applicationName: 'caracal-outbox-test' });
  redis = testRedis();
  prefix = uniquePrefix('outbox');
  keys = new StreamKeys(prefix);
  const zones = await adminQuery<{ id: string }>(db.adminUrl, "INSERT INTO caracal.zones (slug, name) VALUES ('outbox-a', 'A'), ('outbox-b', 'B') RETURNING id");
  [zoneA, zoneB] = zones.rows.map((z) => z.id) as [string, string];
});

afterAll(async () => {
  await clearPrefix(redis, prefix).catch(() => undefined);
  redis?.disconnect();
  await pool?.end();
  await db?.drop();
});

describe('enqueue', () => {
  it('queues nothing when the transaction rolls back, and the relay publishes nothing', async () => {
    await reset();
    await expect(
      withZone(pool, zoneA, async (c) => {
        await enqueue(c, STREAM, { zone_id: zoneA, delegation_id: 'x', event: 'revoked' });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const relay = relayWith();
    await relay.runPass();
    expect(await rows()).toEqual([]);
    expect(await streamed()).toEqual([]);
    expect(relay.counts.published.size).toBe(0);
  });

  it('refuses a transaction bound to no zone, a reserved field, and a field that cannot be signed', async () => {
    await reset();
    await expect(withTransactionlessEnqueue()).rejects.toThrow(/null value in column "zone_id"|violates/);
    for (const fields of [{ event_id: 'mine' }, { _sig: 'x' }, { a: 'two\nlines' }, { 'k=v': '1' }]) {
      await expect(withZone(pool, zoneA, (c) => enqueue(c, STREAM, fields))).rejects.toThrow(TypeError);
    }
    expect(await rows()).toEqual([]);
  });

  it('carries the event id on the stream, signed, with the fields as queued (nulls dropped)', async () => {
    await reset();
    const id = await withZone(pool, zoneA, (c) => enqueue(c, STREAM, { zone_id: zoneA, delegation_id: 'd1', hop_count: 2, accepted: true, parent: null }));
    await relayWith().runPass();
    expect(await streamed()).toEqual([{ zone_id: zoneA, delegation_id: 'd1', hop_count: '2', accepted: 'true', event_id: id, _sig: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(await rows()).toMatchObject([{ id, published: true, attempts: 0 }]);
  });
});

/** An enqueue outside withZone: a plain transaction with no zone bound. */
async function withTransactionlessEnqueue(): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await enqueue(c, STREAM, { zone_id: zoneA });
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    c.release();
  }
}

describe('relays racing', () => {
  it('a batch held open by one relay is skipped by the other, and each event is published once', async () => {
    await reset();
    const ids = await queue(zoneA, 25);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let taken!: () => void;
    const tookBatch = new Promise<void>((r) => (taken = r));
    const real = redisPublisher(redis, keys, hmacKey);
    const slow = relayWith({ publish: async (m) => (taken(), await held, real(m)) });
    const first = slow.relayBatch(zoneA);
    await tookBatch;
    // The first 10 are locked by the slow relay: the other takes the next ones, never those.
    const other = relayWith();
    const second = await other.relayBatch(zoneA);
    expect(second).toMatchObject({ taken: 10, published: 10 });
    release();
    expect(await first).toMatchObject({ taken: 10, published: 10 });
    await other.runPass();
    const published = (await streamed()).map((m) => m.event_id);
    expect(published).toHaveLength(25);
    expect(new Set(published)).toEqual(new Set(ids));
    expect((await rows()).every((r) => r.published)).toBe(true);
  });

  it('a flush publishes exactly its events, waiting for (never repeating) one another relay is publishing', async () => {
    await reset();
    const [held, other, mine] = [await queue(zoneA, 1), await queue(zoneA, 1), await queue(zoneA, 1)].flat() as [string, string, string];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let taken!: () => void;
    const tookBatch = new Promise<void>((r) => (taken = r));
    const real = redisPublisher(redis, keys, hmacKey);
    const slow = relayWith({ batchSize: 1, publish: async (m) => (taken(), await gate, real(m)) });
    const first = slow.relayBatch(zoneA);
    await tookBatch;
    let flushed = false;
    const flush = relayWith().flush(zoneA, [held, mine]).then(() => (flushed = true));
    await new Promise((r) => setTimeout(r, 200));
    // Still waiting for the row the slow relay holds (a SKIP LOCKED take would have returned at once).
    expect(flushed).toBe(false);
    release();
    await first;
    await flush;
    expect((await streamed()).map((m) => m.event_id)).toEqual([held, mine]);
    expect((await rows(`id = '${other}'`))[0]).toMatchObject({ published: false, attempts: 0 });
  });

  it('two relay processes draining the same outbox publish every event exactly once', async () => {
    await reset();
    const ids = [...(await queue(zoneA, 300)), ...(await queue(zoneB, 300))];
    const [a, b] = await Promise.all([runRelayProcess({ BATCH: '7' }), runRelayProcess({ BATCH: '7' })]);
    const counted = (out: string) => (JSON.parse(out) as { published: Record<string, number> }).published[STREAM] ?? 0;
    expect(counted(a.stdout) + counted(b.stdout)).toBe(600);
    const published = (await streamed()).map((m) => m.event_id);
    expect(published).toHaveLength(600);
    expect(new Set(published)).toEqual(new Set(ids));
  });
});

describe('a failing publish', () => {
  it('is retried with doubling backoff, then dead after the last attempt and never tried again', async () => {
    await reset();
    // A key of the wrong type: every XADD to this stream fails (WRONGTYPE).
    const broken = 'caracal.test.broken';
    await redis.set(keys.key(broken), 'not a stream');
    const [id] = await queue(zoneA, 1, broken);
    const relay = relayWith({ maxAttempts: 3 });
    const due = () => adminQuery(db.adminUrl, 'UPDATE caracal.outbox SET next_attempt_at = now() WHERE id = $1', [id]);

    await relay.runPass();
    let [row] = await rows();
    expect(row).toMatchObject({ id, attempts: 1, published: false, dead: false, last_error: expect.stringContaining('WRONGTYPE') });
    expect(row!.wait_s).toBeGreaterThan(50);
    expect(row!.wait_s).toBeLessThanOrEqual(60);

    // Not due yet: another pass leaves it alone.
    await relay.runPass();
    expect((await rows())[0]!.attempts).toBe(1);

    await due();
    await relay.runPass();
    [row] = await rows();
    expect(row).toMatchObject({ attempts: 2, dead: false });
    expect(row!.wait_s).toBeGreaterThan(110);
    expect(row!.wait_s).toBeLessThanOrEqual(120);

    await due();
    await relay.runPass();
    expect((await rows())[0]).toMatchObject({ attempts: 3, dead: true, published: false });
    await due();
    await relay.runPass();
    expect((await rows())[0]).toMatchObject({ attempts: 3, dead: true });

    expect(relay.counts.failed.get(broken)).toBe(3);
    expect(relay.counts.dead.get(broken)).toBe(1);
    expect(relay.counts.published.get(broken)).toBeUndefined();
    // Dead events are not backlog.
    expect(relay.backlogAgeMs()).toBe(0);
  });

  it('one bad message does not hold back the others of its batch', async () => {
    await reset();
    await redis.set(keys.key('caracal.test.broken'), 'not a stream');
    const good = await queue(zoneA, 3);
    const [bad] = await queue(zoneA, 1, 'caracal.test.broken');
    await relayWith().runPass();
    expect((await streamed()).map((m) => m.event_id)).toEqual(good);
    expect((await rows(`id = '${bad}'`))[0]).toMatchObject({ attempts: 1, published: false });
  });

  it('refused by the signing, counts an attempt like a refusal from Redis', async () => {
    await reset();
    // Queued around enqueue's check: a value with a newline cannot be signed.
    const row = await adminQuery<{ id: string }>(db.adminUrl, `INSERT INTO caracal.outbox (zone_id, stream, payload) VALUES ($1, $2, '{"a":"two\\nlines"}') RETURNING id`, [zoneA, STREAM]);
    const relay = relayWith();
    await relay.runPass();
    expect((await rows())[0]).toMatchObject({ id: row.rows[0]!.id, attempts: 1, published: false, last_error: expect.stringContaining('cannot be signed') });
    expect(relay.counts.failed.get(STREAM)).toBe(1);
    expect(relay.notPublishing()).toBeUndefined();
  });

  it('while Redis cannot be reached, counts no attempt and backs off; the events are published once it is back', async () => {
    await reset();
    const ids = await queue(zoneA, 4);
    const nowhere = unreachableRedis();
    let target = redisPublisher(nowhere, keys, hmacKey);
    let sends = 0;
    const logged: string[] = [];
    let now = 1_000_000;
    const relay = relayWith({
      maxAttempts: 2,
      backoff: { baseMs: 10_000, maxMs: 600_000 },
      publish: (m) => (sends++, target(m)),
      now: () => now,
      log: (_level, msg) => logged.push(msg),
    });
    await relay.runPass();
    expect(sends).toBe(1);
    expect((await rows()).map((r) => [r.id, r.attempts, r.published, r.dead])).toEqual(ids.map((id) => [id, 0, false, false]));
    expect(relay.counts.failed.size).toBe(0);
    expect(relay.notPublishing()).toMatch(/^Redis cannot be reached/);

    // Backing off: the next pass within the wait sends nothing, but still measures the backlog.
    await adminQuery(db.adminUrl, "UPDATE caracal.outbox SET created_at = now() - interval '1 hour'");
    await relay.runPass();
    expect(sends).toBe(1);
    expect(relay.backlogAgeMs()).toBeGreaterThan(3_500_000);

    // More failed batches than maxAttempts: nothing is counted, nothing dead; the wait doubles; logged once.
    now += 10_000;
    await relay.runPass();
    now += 19_999;
    await relay.runPass();
    expect(sends).toBe(2);
    now += 1;
    await relay.runPass();
    expect(sends).toBe(3);
    expect((await rows()).every((r) => r.attempts === 0 && !r.dead && !r.published)).toBe(true);
    expect(logged.filter((m) => m.startsWith('Redis cannot be reached'))).toHaveLength(1);
    nowhere.disconnect();

    target = redisPublisher(redis, keys, hmacKey);
    now += 40_000;
    await relay.runPass();
    expect((await streamed()).map((m) => m.event_id)).toEqual(ids);
    expect((await rows()).every((r) => r.published && r.attempts === 0)).toBe(true);
    expect(relay.notPublishing()).toBeUndefined();
    expect(logged).toContain('outbox relay reaches Redis again');
  });
});

describe('a relay with nothing to sign with', () => {
  it('publishes nothing, not even a flush, counts no attempt, measures the backlog and says why once', async () => {
    await reset();
    const ids = await queue(zoneA, 2);
    const logged: Array<[string, Record<string, unknown>]> = [];
    const relay = relayWith({ publish: { reason: 'no signing key' }, log: (_level, msg, detail) => logged.push([msg, detail]) });
    await relay.runPass();
    await relay.flush(zoneA, ids);
    await relay.runPass();
    expect(await streamed()).toEqual([]);
    expect((await rows()).map((r) => [r.id, r.attempts, r.published, r.dead])).toEqual(ids.map((id) => [id, 0, false, false]));
    expect(relay.backlogAgeMs()).toBeGreaterThan(0);
    expect(relay.notPublishing()).toBe('no signing key');
    expect(logged).toEqual([['outbox relay publishes nothing; events stay queued', { reason: 'no signing key' }]]);
  });

  it('is what redisPublisher makes of an empty key: it refuses to sign with one', () => {
    expect(() => redisPublisher(redis, keys, '')).toThrow(TypeError);
  });
});

describe('pruning', () => {
  /** `n` published rows in zone A, published `age` ago. */
  const published = (n: number, age: string) =>
    adminQuery(
      db.adminUrl,
      `INSERT INTO caracal.outbox (zone_id, stream, payload, published_at) SELECT $1, $2, '{}', now() - $3::interval FROM generate_series(1, $4)`,
      [zoneA, STREAM, age, n],
    );
  const count = async (where: string) => Number((await adminQuery<{ n: string }>(db.adminUrl, `SELECT count(*) AS n FROM caracal.outbox WHERE ${where}`)).rows[0]!.n);

  it('deletes every published row past retention, more than one batch, and keeps the rest', async () => {
    await reset();
    await published(2500, '2 days');
    await published(3, '1 hour');
    const [dead] = await queue(zoneB, 1);
    await adminQuery(db.adminUrl, "UPDATE caracal.outbox SET dead_at = now() - interval '2 days' WHERE id = $1", [dead]);
    await relayWith().runPass();
    expect(await count("published_at < now() - interval '1 day'")).toBe(0);
    expect(await count('published_at IS NOT NULL')).toBe(3);
    expect(await count(`id = '${dead}'`)).toBe(1);
  });

  it('stops a pass after a bounded number of batches per zone and goes on in the next pass', async () => {
    await reset();
    await published(20_500, '2 days');
    const now = 1_000_000;
    const relay = relayWith({ now: () => now });
    await relay.runPass();
    expect(await count('true')).toBe(500);
    // Not a minute later: a pruning cut short goes on at once.
    await relay.runPass();
    expect(await count('true')).toBe(0);
  });
});

interface ProcessResult {
  stdout: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

function relayProcess(extra: Record<string, string>) {
  return spawn(process.execPath, [RELAY_PROCESS], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.roleUrl('coordinator'), REDIS_URL: redisUrl(), PREFIX: prefix, HMAC_KEY: hmacKey, ...extra },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function runRelayProcess(extra: Record<string, string>): Promise<ProcessResult> {
  const child = relayProcess(extra);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve({ stdout, code, signal }) : reject(new Error(`relay process exited ${code ?? signal}`))));
  });
}

describe('passes that keep failing', () => {
  it('show as time since the last full pass, growing while they fail, and a completed pass resets it', async () => {
    await reset();
    let now = 1_000_000;
    const failed: string[] = [];
    let passFailed!: () => void;
    const firstFailure = new Promise<void>((r) => (passFailed = r));
    const relay = relayWith({ pollIntervalMs: 3_600_000, now: () => now, log: (_level, msg) => (failed.push(msg), passFailed()) });
    // Every pass fails at its first query while the zones table is away.
    await adminQuery(db.adminUrl, 'ALTER TABLE caracal.zones RENAME TO zones_away');
    try {
      relay.start();
      await firstFailure;
      expect(failed).toEqual(['outbox relay pass failed; retrying']);
      now += 5000;
      expect(relay.sinceFullPassMs()).toBe(5000);
      await expect(relay.runPass()).rejects.toThrow(/zones/);
      now += 5000;
      // A pass that had completed at 5000 would read 5000 here.
      expect(relay.sinceFullPassMs()).toBe(10_000);
    } finally {
      await adminQuery(db.adminUrl, 'ALTER TABLE caracal.zones_away RENAME TO zones');
    }
    await relay.runPass();
    expect(relay.sinceFullPassMs()).toBe(0);
    now += 250;
    expect(relay.sinceFullPassMs()).toBe(250);
    await relay.stop();
  });
});

describe('a relay killed mid-batch', () => {
  it('leaves its batch unpublished; restarted, it publishes every event, and the repeats carry the same event ids', async () => {
    await reset();
    const ids = await queue(zoneA, 50);
    const child = relayProcess({ BATCH: '50', STOP_AFTER: '20' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
    for await (const line of createInterface({ input: child.stdout })) {
      if (line === 'published 20') break;
    }
    // XADDed, not committed: the kill lands between the two.
    expect((await streamed()).map((m) => m.event_id)).toEqual(ids.slice(0, 20));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect((await rows()).some((r) => r.published)).toBe(false);

    await runRelayProcess({ BATCH: '50' });
    const seen = (await streamed()).map((m) => m.event_id!);
    expect(seen).toHaveLength(70);
    // Deduplicated on the event id, every event is there exactly once; only the killed batch's sent part repeats.
    expect([...new Set(seen)].sort()).toEqual([...ids].sort());
    const repeats = seen.filter((id, i) => seen.indexOf(id) !== i);
    expect(repeats.sort()).toEqual(ids.slice(0, 20).sort());
    expect((await rows()).every((r) => r.published && r.attempts === 0)).toBe(true);
  });
});
