// R-STR-1/2/4 against real Redis: idempotent groups, ack after handling, XAUTOCLAIM redelivery, bounded retries, DLQ.
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearPrefix, testRedis, uniquePrefix } from '../../../../test-support/redis.js';
import { HANDOVER_CONSUMER, StreamConsumer, toFields, type ConsumerOptions, type StreamMessage } from '../../src/consumer.js';
import { ensureGroups, missingGroup } from '../../src/groups.js';
import { StreamKeys } from '../../src/keys.js';
import { publishAudit, publishSigned } from '../../src/publish.js';
import { signFields, verifyAuditData, verifyFields } from '../../src/sign.js';

const KEY = '5a'.repeat(32);
const STREAM = 'caracal.sessions.revoke';
const AUDIT = 'caracal.audit.events';
const GROUP = 'test-group';

let redis: Redis;
let prefix: string;
let keys: StreamKeys;

beforeEach(async () => {
  redis = testRedis();
  prefix = uniquePrefix('streams');
  keys = new StreamKeys(prefix);
  await ensureGroups(redis, keys, [{ stream: STREAM, group: GROUP }]);
});

afterEach(async () => {
  await clearPrefix(redis, prefix);
  await redis.quit();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const verifySigned = (msg: StreamMessage) =>
  verifyFields(STREAM, msg.fields, KEY) ? ({ ok: true } as const) : ({ ok: false, reason: 'bad_signature' } as const);

function consumer(opts: Partial<Omit<ConsumerOptions, 'handle' | 'handleBatch'>> & { handle: (msg: StreamMessage) => Promise<void> }): StreamConsumer {
  return new StreamConsumer({
    redis,
    keys,
    stream: STREAM,
    group: GROUP,
    consumer: 'c1',
    verify: verifySigned,
    blockMs: 50,
    reclaimIdleMs: 50,
    ...opts,
  });
}

async function pendingCount(stream = STREAM): Promise<number> {
  const summary = (await redis.xpending(keys.key(stream), GROUP)) as [number, ...unknown[]];
  return Number(summary[0]);
}

async function dlqEntries(stream = STREAM): Promise<Array<Record<string, string>>> {
  const rows = (await redis.xrange(keys.key(`${stream}.dlq`), '-', '+')) as Array<[string, string[]]>;
  return rows.map(([, flat]) => toFields(flat));
}

/** Polls until `done()` or the attempt budget is spent; waits past the reclaim idle time between polls. */
async function pollUntil(c: StreamConsumer, done: () => Promise<boolean> | boolean, attempts = 20): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    await c.pollOnce();
    if (await done()) return;
    await sleep(60);
  }
  throw new Error('condition not reached');
}

describe('consumer groups (R-STR-1)', () => {
  it('ensureGroups is idempotent and missingGroup reports what is missing', async () => {
    const groups = [
      { stream: STREAM, group: GROUP },
      { stream: 'caracal.policy.invalidate', group: 'g2' },
    ];
    expect(await missingGroup(redis, keys, groups)).toEqual(groups[1]);
    await ensureGroups(redis, keys, groups);
    await expect(ensureGroups(redis, keys, groups)).resolves.toBeUndefined();
    expect(await missingGroup(redis, keys, groups)).toBeUndefined();
    expect(await missingGroup(redis, keys, [{ stream: STREAM, group: 'other' }])).toEqual({ stream: STREAM, group: 'other' });
  });

  it('creates groups from the start of the stream, so earlier messages are still read', async () => {
    await publishSigned(redis, keys, 'caracal.keys.invalidate', { kid: 'k1' }, KEY);
    await ensureGroups(redis, keys, [{ stream: 'caracal.keys.invalidate', group: GROUP }]);
    const seen: string[] = [];
    const verify = (m: StreamMessage) => (verifyFields('caracal.keys.invalidate', m.fields, KEY) ? ({ ok: true } as const) : ({ ok: false, reason: 'x' } as const));
    const c = consumer({ stream: 'caracal.keys.invalidate', verify, handle: async (m) => void seen.push(m.fields.kid!) });
    await c.pollOnce();
    expect(seen).toEqual(['k1']);
  });

  it('does not swallow errors other than BUSYGROUP', async () => {
    await redis.set(keys.key('caracal.agents.lifecycle'), 'not a stream');
    await expect(ensureGroups(redis, keys, [{ stream: 'caracal.agents.lifecycle', group: GROUP }])).rejects.toThrow(/WRONGTYPE/);
  });
});

describe('StreamConsumer (R-STR-2, R-STR-4)', () => {
  it('handles a signed message, then acknowledges it', async () => {
    const seen: StreamMessage[] = [];
    const c = consumer({
      handle: async (m) => {
        // Acknowledged only after handling: still pending while the handler runs.
        expect(await pendingCount()).toBe(1);
        seen.push(m);
      },
    });
    const id = await publishSigned(redis, keys, STREAM, { session_id: 's-1', zone_id: 'z-1' }, KEY);
    expect(await c.pollOnce()).toBe(1);
    expect(seen).toEqual([{ id, fields: signFields(STREAM, { session_id: 's-1', zone_id: 'z-1' }, KEY) }]);
    expect(await pendingCount()).toBe(0);
  });

  it('leaves a failed message pending, redelivers it via XAUTOCLAIM, and acks once handling succeeds', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const c = consumer({
      handle: async () => {
        calls++;
        if (calls < 3) throw new Error('database down');
      },
      hooks: { onHandlerError: (_m, err) => errors.push(err) },
    });
    await publishSigned(redis, keys, STREAM, { session_id: 's-1' }, KEY);
    await c.pollOnce();
    expect(calls).toBe(1);
    expect(await pendingCount()).toBe(1);
    await pollUntil(c, async () => (await pendingCount()) === 0);
    expect(calls).toBe(3);
    expect(errors).toHaveLength(2);
    expect(await dlqEntries()).toEqual([]);
  });

  it('does not let one failing message hold back the others in the same batch', async () => {
    const handled: string[] = [];
    const c = consumer({
      handle: async (m) => {
        if (m.fields.n === '1') throw new Error('poison');
        handled.push(m.fields.n!);
      },
    });
    for (const n of [1, 2, 3]) await publishSigned(redis, keys, STREAM, { n }, KEY);
    await c.pollOnce();
    expect(handled).toEqual(['2', '3']);
    expect(await pendingCount()).toBe(1);
  });

  it('moves a message to <stream>.dlq after maxDeliveries failures, with the reason and original fields, and acks it', async () => {
    let calls = 0;
    const deadLettered: string[] = [];
    const c = consumer({
      maxDeliveries: 3,
      handle: async () => {
        calls++;
        throw new Error('always fails');
      },
      hooks: { onDeadLettered: (_m, reason) => deadLettered.push(reason) },
    });
    const id = await publishSigned(redis, keys, STREAM, { session_id: 's-9', zone_id: 'z-1' }, KEY);
    await pollUntil(c, async () => (await dlqEntries()).length > 0);
    expect(calls).toBe(3);
    expect(deadLettered).toEqual(['max_deliveries_exceeded']);
    const [entry, ...rest] = await dlqEntries();
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({ ...signFields(STREAM, { session_id: 's-9', zone_id: 'z-1' }, KEY), _dlq_source_id: id, _dlq_deliveries: '4' });
    expect(entry!._dlq_reason).toContain('max_deliveries_exceeded');
    expect(await pendingCount()).toBe(0);
    // Acknowledged: further polls never hand it to the handler again.
    await sleep(60);
    await c.pollOnce();
    expect(calls).toBe(3);
  });

  it('keeps a message pending (never acks it) when the DLQ write fails', async () => {
    await redis.set(keys.key(`${STREAM}.dlq`), 'not a stream');
    const c = consumer({
      maxDeliveries: 1,
      handle: async () => {
        throw new Error('always fails');
      },
    });
    await publishSigned(redis, keys, STREAM, { session_id: 's-1' }, KEY);
    await c.pollOnce();
    await sleep(60);
    await expect(c.pollOnce()).rejects.toThrow(/WRONGTYPE/);
    expect(await pendingCount()).toBe(1);
    // Once the DLQ is writable again, the next reclaim dead-letters it.
    await redis.del(keys.key(`${STREAM}.dlq`));
    await sleep(60);
    await c.pollOnce();
    expect(await pendingCount()).toBe(0);
    expect((await dlqEntries()).map((e) => e.session_id)).toEqual(['s-1']);
  });

  it('acks and drops tampered and unsigned messages, counts them, and keeps handling valid ones', async () => {
    const handled: string[] = [];
    const rejected: Array<{ id: string; reason: string }> = [];
    const c = consumer({ handle: async (m) => void handled.push(m.fields.n!), hooks: { onRejected: (m, reason) => rejected.push({ id: m.id, reason }) } });
    await publishSigned(redis, keys, STREAM, { n: 'first' }, KEY);
    const tampered = signFields(STREAM, { n: 'tampered', zone_id: 'z-1' }, KEY);
    const tamperedId = await redis.xadd(keys.key(STREAM), '*', ...Object.entries({ ...tampered, zone_id: 'z-2' }).flat());
    const unsignedId = await redis.xadd(keys.key(STREAM), '*', 'n', 'unsigned');
    const wrongKey = signFields(STREAM, { n: 'wrong-key' }, 'ee'.repeat(32));
    const wrongKeyId = await redis.xadd(keys.key(STREAM), '*', ...Object.entries(wrongKey).flat());
    await publishSigned(redis, keys, STREAM, { n: 'last' }, KEY);

    expect(await c.pollOnce()).toBe(5);
    expect(handled).toEqual(['first', 'last']);
    expect(rejected).toEqual([
      { id: tamperedId, reason: 'bad_signature' },
      { id: unsignedId, reason: 'bad_signature' },
      { id: wrongKeyId, reason: 'bad_signature' },
    ]);
    expect(await pendingCount()).toBe(0);
    expect(await dlqEntries()).toEqual([]);
    await sleep(60);
    await c.pollOnce();
    expect(handled).toEqual(['first', 'last']);
    expect(rejected).toHaveLength(3);
  });

  it("with onInvalid 'dlq', dead-letters a forged audit event with the reason and never handles it", async () => {
    const AUDIT_KEY = 'a1'.repeat(32);
    await ensureGroups(redis, keys, [{ stream: AUDIT, group: GROUP }]);
    const handled: string[] = [];
    const rejected: string[] = [];
    const c = consumer({
      stream: AUDIT,
      onInvalid: 'dlq',
      verify: (m) => (verifyAuditData(m.fields, AUDIT_KEY) ? { ok: true } : { ok: false, reason: 'audit_signature_invalid' }),
      handle: async (m) => void handled.push(m.fields.data!),
      hooks: { onRejected: (_m, reason) => rejected.push(reason) },
    });
    await publishAudit(redis, keys, AUDIT, '{"e":"genuine"}', AUDIT_KEY);
    const forgedSig = (await redis.xrange(keys.key(AUDIT), '-', '+'))[0]![1][3]!;
    const forgedId = await redis.xadd(keys.key(AUDIT), '*', 'data', '{"e":"forged"}', 'sig', forgedSig);

    await c.pollOnce();
    expect(handled).toEqual(['{"e":"genuine"}']);
    expect(rejected).toEqual(['audit_signature_invalid']);
    const dlq = await dlqEntries(AUDIT);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ data: '{"e":"forged"}', sig: forgedSig, _dlq_reason: 'audit_signature_invalid', _dlq_source_id: forgedId });
    expect(await pendingCount(AUDIT)).toBe(0);
  });

  it('reclaims a message left pending by a dead consumer, but only once it has been idle long enough', async () => {
    const id = await publishSigned(redis, keys, STREAM, { session_id: 's-dead' }, KEY);
    await redis.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 10, 'STREAMS', keys.key(STREAM), '>');
    const handled: string[] = [];
    const c = consumer({ consumer: 'alive', reclaimIdleMs: 400, handle: async (m) => void handled.push(m.id) });
    await c.pollOnce();
    expect(handled).toEqual([]);
    await sleep(450);
    await c.pollOnce();
    expect(handled).toEqual([id]);
    expect(await pendingCount()).toBe(0);
  });

  it('runs as a loop: survives read errors (missing group), then handles messages until stopped', async () => {
    const stream = 'caracal.delegations.invalidate';
    const readErrors: unknown[] = [];
    const handled: string[] = [];
    const verify = (m: StreamMessage) => (verifyFields(stream, m.fields, KEY) ? ({ ok: true } as const) : ({ ok: false, reason: 'x' } as const));
    const loopRedis = testRedis();
    const c = new StreamConsumer({
      redis: loopRedis,
      keys,
      stream,
      group: GROUP,
      consumer: 'loop',
      verify,
      blockMs: 50,
      reclaimIdleMs: 50,
      handle: async (m) => void handled.push(m.fields.d!),
      hooks: { onReadError: (err) => readErrors.push(err) },
    });
    try {
      c.start();
      for (let i = 0; i < 50 && readErrors.length === 0; i++) await sleep(20);
      expect(String(readErrors[0])).toMatch(/NOGROUP/);
      await ensureGroups(redis, keys, [{ stream, group: GROUP }]);
      await publishSigned(redis, keys, stream, { d: 'd-1' }, KEY);
      for (let i = 0; i < 100 && handled.length === 0; i++) await sleep(50);
      expect(handled).toEqual(['d-1']);
    } finally {
      await c.stop();
      await loopRedis.quit();
    }
  });
});

describe('handover on stop', () => {
  type Pending = Array<[string, string, number, number]>;
  const pendingOf = async (consumer: string) => (await redis.xpending(keys.key(STREAM), GROUP, '-', '+', 100, consumer)) as Pending;
  const consumers = async () => ((await redis.xinfo('CONSUMERS', keys.key(STREAM), GROUP)) as unknown[][]).map((c) => toFields(c.map(String)).name);

  it('hands what is still pending to `handover` without counting a delivery, then leaves the group', async () => {
    const handedOver: Array<[number, boolean]> = [];
    const c = consumer({
      consumer: 'stopping',
      handle: async () => {
        throw new Error('database down');
      },
      hooks: { onHandedOver: (moved, left) => handedOver.push([moved, left]) },
    });
    const ids = [];
    for (const n of [1, 2, 3]) ids.push(await publishSigned(redis, keys, STREAM, { n }, KEY));
    await c.pollOnce();
    expect((await pendingOf('stopping')).map((p) => p[0])).toEqual(ids);
    await c.stop();
    expect(handedOver).toEqual([[3, true]]);
    const held = await pendingOf(HANDOVER_CONSUMER);
    expect(held.map((p) => p[0])).toEqual(ids);
    expect(held.map((p) => p[3])).toEqual([1, 1, 1]);
    expect(await consumers()).not.toContain('stopping');
  });

  it('leaves the group at once when nothing is pending for it', async () => {
    const c = consumer({ consumer: 'idle', handle: async () => undefined });
    await publishSigned(redis, keys, STREAM, { n: 1 }, KEY);
    await c.pollOnce();
    expect(await consumers()).toContain('idle');
    await c.stop();
    expect(await consumers()).not.toContain('idle');
    expect(await pendingCount()).toBe(0);
  });

  it('another consumer takes handed-over entries on its next pass, long before the idle time', async () => {
    const first = consumer({ consumer: 'old', reclaimIdleMs: 600_000, handle: async () => Promise.reject(new Error('not now')) });
    const ids = [];
    for (const n of [1, 2, 3, 4]) ids.push(await publishSigned(redis, keys, STREAM, { n }, KEY));
    await first.pollOnce();
    await first.stop();
    const handled: Array<{ id: string; n: string }> = [];
    const next = consumer({ consumer: 'new', reclaimIdleMs: 600_000, handle: async (m) => void handled.push({ id: m.id, n: m.fields.n! }) });
    const started = Date.now();
    await next.pollOnce();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(handled.map((h) => h.id)).toEqual(ids);
    expect(await pendingCount()).toBe(0);
    expect(await pendingOf(HANDOVER_CONSUMER)).toEqual([]);
  });

  it('consumers racing for the same handed-over entries handle each of them once', async () => {
    const first = consumer({ consumer: 'old', reclaimIdleMs: 600_000, count: 500, handle: async () => Promise.reject(new Error('not now')) });
    for (let i = 0; i < 300; i++) await publishSigned(redis, keys, STREAM, { n: i }, KEY);
    await first.pollOnce();
    await first.stop();
    expect(Number(((await redis.xpending(keys.key(STREAM), GROUP)) as [number, string, string, Array<[string, string]>])[3][0]![1])).toBe(300);
    const handled: string[] = [];
    // Each pass looks at the same oldest 100 handed-over entries, so the three really compete for them.
    const racers = ['a', 'b', 'c'].map((name) => {
      const conn = testRedis();
      return { conn, c: consumer({ redis: conn, consumer: name, reclaimIdleMs: 600_000, count: 100, handle: async (m) => void handled.push(m.fields.n!) }) };
    });
    try {
      for (let round = 0; round < 20 && handled.length < 300; round++) {
        await Promise.all(racers.map((r) => r.c.pollOnce()));
        await sleep(100);
      }
    } finally {
      for (const r of racers) r.conn.disconnect();
    }
    expect(handled).toHaveLength(300);
    expect(new Set(handled).size).toBe(300);
    expect(await pendingCount()).toBe(0);
  });

  it('keeps its entries (for XAUTOCLAIM after the idle time) when Redis does not answer at stop', async () => {
    const conn = testRedis();
    const errors: unknown[] = [];
    const c = consumer({ redis: conn, consumer: 'cut-off', handle: async () => Promise.reject(new Error('no')), hooks: { onReadError: (err) => errors.push(err) } });
    await publishSigned(redis, keys, STREAM, { n: 1 }, KEY);
    await c.pollOnce();
    conn.disconnect();
    await expect(c.stop()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(await pendingOf('cut-off')).toHaveLength(1);
    expect(await pendingOf(HANDOVER_CONSUMER)).toEqual([]);
  });

  it('with lingerMs, a trickle of messages is read in one batch rather than one read each', async () => {
    const sizes: number[] = [];
    const make = (lingerMs: number) =>
      new StreamConsumer({
        redis,
        keys,
        stream: STREAM,
        group: GROUP,
        consumer: `linger-${lingerMs}`,
        verify: verifySigned,
        blockMs: 50,
        lingerMs,
        handleBatch: async (msgs) => {
          sizes.push(msgs.length);
          return new Map(msgs.map((m) => [m.id, { kind: 'done' } as const]));
        },
      });
    const trickle = async () => {
      await publishSigned(redis, keys, STREAM, { session_id: 'first' }, KEY);
      await sleep(100);
      for (let i = 0; i < 3; i++) {
        await publishSigned(redis, keys, STREAM, { session_id: `s-${i}` }, KEY);
        await sleep(60);
      }
      await sleep(500);
    };
    for (const lingerMs of [0, 400]) {
      sizes.length = 0;
      const c = make(lingerMs);
      c.start();
      await trickle();
      await c.stop();
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(4);
      // Without lingering every message is its own read; lingering after the first read gathers the other three.
      if (lingerMs) expect(sizes).toEqual([1, 3]);
      else expect(sizes.length).toBeGreaterThan(2);
    }
  });

  it('refuses the reserved consumer name', () => {
    expect(() => consumer({ consumer: HANDOVER_CONSUMER, handle: async () => undefined })).toThrow("consumer name 'handover' is reserved");
  });
});
