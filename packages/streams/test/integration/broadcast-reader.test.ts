// Per-instance broadcast reading against real Redis: every reader sees every message with its own cursor and no
// consumer group, from the id it marked; forged and unsigned messages are dropped (R-STR-2); after Redis goes
// away and returns, the reader resumes from its cursor; a cursor taken late asks the caller to reload.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { privateRedis, type PrivateRedis } from '../../../../test-support/private-redis.js';
import { clearPrefix, redisUrl, testRedis, uniquePrefix } from '../../../../test-support/redis.js';
import { BroadcastReader, type BroadcastReaderOptions } from '../../src/broadcast-reader.js';
import type { StreamMessage } from '../../src/consumer.js';
import { StreamKeys } from '../../src/keys.js';
import { publishSigned } from '../../src/publish.js';
import { signFields } from '../../src/sign.js';

const KEY = '5a'.repeat(32);
const REVOKE = 'caracal.sessions.revoke';
const KEYS = 'caracal.keys.invalidate';

let redis: Redis;
let prefix: string;
let keys: StreamKeys;
const readers: BroadcastReader[] = [];
const connections: Redis[] = [];

beforeEach(() => {
  redis = testRedis();
  prefix = uniquePrefix('broadcast');
  keys = new StreamKeys(prefix);
});

afterEach(async () => {
  for (const r of readers.splice(0)) await r.stop();
  for (const c of connections.splice(0)) c.disconnect();
  await clearPrefix(redis, prefix);
  await redis.quit();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A blocking connection of its own, configured as the services configure theirs. */
function connection(url = redisUrl()): Redis {
  const c = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  c.on('error', () => undefined);
  connections.push(c);
  return c;
}

function reader(seen: Array<[string, string]>, opts: Partial<BroadcastReaderOptions> = {}): BroadcastReader {
  const r = new BroadcastReader({
    redis: connection(),
    keys,
    hmacKey: KEY,
    blockMs: 100,
    handlers: {
      [REVOKE]: (m: StreamMessage) => void seen.push([REVOKE, m.fields.target_id!]),
      [KEYS]: (m: StreamMessage) => void seen.push([KEYS, m.fields.zone_id!]),
    },
    ...opts,
  });
  readers.push(r);
  return r;
}

async function until(what: string, done: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('BroadcastReader', () => {
  it('delivers every message to every reader, in order, per stream, without creating a consumer group', async () => {
    const a: Array<[string, string]> = [];
    const b: Array<[string, string]> = [];
    const ra = reader(a);
    const rb = reader(b);
    await ra.mark();
    await rb.mark();
    ra.start();
    rb.start();
    await publishSigned(redis, keys, REVOKE, { target_id: 's-1' }, KEY);
    await publishSigned(redis, keys, KEYS, { zone_id: 'z-1' }, KEY);
    await publishSigned(redis, keys, REVOKE, { target_id: 's-2' }, KEY);
    const expected = [
      [REVOKE, 's-1'],
      [KEYS, 'z-1'],
      [REVOKE, 's-2'],
    ];
    await until('both readers', () => a.length === 3 && b.length === 3);
    for (const seen of [a, b]) {
      expect(seen.filter(([s]) => s === REVOKE)).toEqual(expected.filter(([s]) => s === REVOKE));
      expect(seen.filter(([s]) => s === KEYS)).toEqual(expected.filter(([s]) => s === KEYS));
    }
    expect(await redis.xinfo('GROUPS', keys.key(REVOKE))).toEqual([]);
    expect(await redis.xinfo('GROUPS', keys.key(KEYS))).toEqual([]);
  });

  it('starts after the last id at mark time: earlier messages are not applied, later ones are', async () => {
    await publishSigned(redis, keys, REVOKE, { target_id: 'before' }, KEY);
    const seen: Array<[string, string]> = [];
    const r = reader(seen);
    await r.mark();
    const lastBefore = (await redis.xrevrange(keys.key(REVOKE), '+', '-', 'COUNT', 1))[0]![0];
    expect(r.position?.get(REVOKE)).toBe(lastBefore);
    // A stream that does not exist yet is read from its start once it does.
    expect(r.position?.get(KEYS)).toBe('0-0');
    await publishSigned(redis, keys, REVOKE, { target_id: 'after' }, KEY);
    await publishSigned(redis, keys, KEYS, { zone_id: 'first-ever' }, KEY);
    expect(await r.pollOnce()).toBe(2);
    expect(seen).toEqual([
      [REVOKE, 'after'],
      [KEYS, 'first-ever'],
    ]);
    // The cursor moved: nothing is read twice.
    expect(await r.pollOnce()).toBe(0);
  });

  it('drops tampered, unsigned and wrongly keyed messages with the reason, and keeps applying valid ones', async () => {
    const seen: Array<[string, string]> = [];
    const rejected: Array<[string, string, string]> = [];
    const r = reader(seen, { hooks: { onRejected: (stream, m, reason) => rejected.push([stream, m.id, reason]) } });
    await r.mark();
    await publishSigned(redis, keys, REVOKE, { target_id: 'first' }, KEY);
    const tampered = { ...signFields(REVOKE, { target_id: 'victim', zone_id: 'z-1' }, KEY), zone_id: 'z-2' };
    const tamperedId = (await redis.xadd(keys.key(REVOKE), '*', ...Object.entries(tampered).flat())) as string;
    const unsignedId = (await redis.xadd(keys.key(REVOKE), '*', 'target_id', 'victim')) as string;
    const wrongKeyId = (await redis.xadd(keys.key(KEYS), '*', ...Object.entries(signFields(KEYS, { zone_id: 'victim' }, 'ee'.repeat(32))).flat())) as string;
    // Signed for the other stream: the signature covers the stream name.
    const crossId = (await redis.xadd(keys.key(KEYS), '*', ...Object.entries(signFields(REVOKE, { zone_id: 'victim' }, KEY)).flat())) as string;
    await publishSigned(redis, keys, REVOKE, { target_id: 'last' }, KEY);
    let n = 0;
    for (let i = 0; i < 5 && n < 6; i++) n += await r.pollOnce();
    expect(n).toBe(6);
    expect(seen).toEqual([
      [REVOKE, 'first'],
      [REVOKE, 'last'],
    ]);
    expect(rejected.sort()).toEqual(
      [
        [REVOKE, tamperedId, 'bad_signature'],
        [REVOKE, unsignedId, 'bad_signature'],
        [KEYS, wrongKeyId, 'bad_signature'],
        [KEYS, crossId, 'bad_signature'],
      ].sort(),
    );
  });

  it('reports a handler that throws and goes on with the next message', async () => {
    const errors: string[] = [];
    const seen: string[] = [];
    const r = reader([], {
      handlers: {
        [REVOKE]: (m) => {
          if (m.fields.target_id === 'bad') throw new Error('handler failed');
          seen.push(m.fields.target_id!);
        },
      },
      hooks: { onHandlerError: (_s, m, err) => errors.push(`${m.fields.target_id}: ${(err as Error).message}`) },
    });
    await r.mark();
    for (const t of ['bad', 'good']) await publishSigned(redis, keys, REVOKE, { target_id: t }, KEY);
    expect(await r.pollOnce()).toBe(2);
    expect(seen).toEqual(['good']);
    expect(errors).toEqual(['bad: handler failed']);
  });

  it('refuses to read before a cursor is marked, and to be built without a stream', async () => {
    await expect(reader([]).pollOnce()).rejects.toThrow(/mark\(\) has not succeeded/);
    expect(() => new BroadcastReader({ redis, keys, hmacKey: KEY, handlers: {} })).toThrow(/at least one stream/);
  });
});

describe('BroadcastReader when Redis goes away', () => {
  let server: PrivateRedis;
  let admin: Redis;

  beforeAll(async () => {
    server = await privateRedis();
    admin = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    admin.on('error', () => undefined);
  });
  afterAll(async () => {
    admin.disconnect();
    await server.remove();
  });

  it('backs off while Redis is down, then resumes from its cursor: nothing missed, nothing applied twice', async () => {
    await admin.connect();
    const seen: Array<[string, string]> = [];
    const readErrors: unknown[] = [];
    const r = new BroadcastReader({
      redis: connection(server.url),
      keys,
      hmacKey: KEY,
      blockMs: 100,
      handlers: { [REVOKE]: (m) => void seen.push([REVOKE, m.fields.target_id!]) },
      hooks: { onReadError: (err) => readErrors.push(err) },
    });
    readers.push(r);
    await r.mark();
    r.start();
    await publishSigned(admin, keys, REVOKE, { target_id: 'before-outage' }, KEY);
    await until('the first message', () => seen.length === 1);

    await server.stop();
    await until('a read error', () => readErrors.length > 0);
    await server.start();
    // Published as soon as Redis is back, before the reader has read again: a reader that resumed at the
    // stream's end instead of its cursor would miss it.
    await until('admin reconnected', () => admin.status === 'ready', 10_000);
    await publishSigned(admin, keys, REVOKE, { target_id: 'after-outage-1' }, KEY);
    await publishSigned(admin, keys, REVOKE, { target_id: 'after-outage-2' }, KEY);
    await until('the later messages', () => seen.length >= 3, 15_000);
    await sleep(300);
    expect(seen.map(([, t]) => t)).toEqual(['before-outage', 'after-outage-1', 'after-outage-2']);
  });

  it('takes its cursor once Redis answers when it could not at startup, and asks the caller to reload', async () => {
    await server.stop();
    const seen: string[] = [];
    let resyncs = 0;
    const r = new BroadcastReader({
      redis: connection(server.url),
      keys,
      hmacKey: KEY,
      blockMs: 100,
      handlers: { [REVOKE]: (m) => void seen.push(m.fields.target_id!) },
      hooks: { onResync: () => resyncs++ },
    });
    readers.push(r);
    await expect(r.mark(200)).rejects.toThrow();
    r.start();
    await sleep(300);
    expect(resyncs).toBe(0);
    await server.start();
    await until('the cursor', () => r.position !== undefined, 15_000);
    expect(resyncs).toBe(1);
    await until('admin reconnected', () => admin.status === 'ready', 10_000);
    await publishSigned(admin, keys, REVOKE, { target_id: 'after-resync' }, KEY);
    await until('the message', () => seen.length === 1);
    expect(seen).toEqual(['after-resync']);
    expect(resyncs).toBe(1);
  });

  it('stops at once while backing off', async () => {
    await server.stop();
    const r = new BroadcastReader({ redis: connection(server.url), keys, hmacKey: KEY, blockMs: 100, handlers: { [REVOKE]: () => undefined } });
    r.start();
    // Long enough for the backoff to have grown past a second.
    await sleep(2500);
    const started = Date.now();
    await r.stop();
    expect(Date.now() - started).toBeLessThan(500);
    await server.start();
  });
});
