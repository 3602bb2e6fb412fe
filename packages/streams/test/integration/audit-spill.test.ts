// R-AUD-1 against a real redis-server that is stopped and started again: events emitted while Redis is away are
// kept in an fsynced spill file and published exactly once, in order, when it returns; spill files of dead
// processes are adopted, those of live ones left alone; corrupt lines are set aside; what cannot be kept is lost.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { privateRedis, type PrivateRedis } from '../../../../test-support/private-redis.js';
import { clearPrefix, uniquePrefix } from '../../../../test-support/redis.js';
import { createAuditEmitter, type AuditEmitter } from '../../src/audit-emitter.js';
import { AuditSpill, type AuditSpillOptions } from '../../src/audit-spill.js';
import type { SpillLog } from '../../src/spill-files.js';
import { StreamKeys } from '../../src/keys.js';
import { toFields } from '../../src/consumer.js';
import { prepareSpillDir } from '../../src/spill-dir.js';
import { encodeSpillLine } from '../../src/spill-lines.js';
import { spillFileName } from '../../src/spill-names.js';
import { signAuditData, verifyAuditData } from '../../src/sign.js';

const KEY = '3c'.repeat(32);
const AUDIT = 'caracal.audit.events';

let server: PrivateRedis;
let redis: Redis;
let prefix: string;
let keys: StreamKeys;
let root: string;
let dir: string;
let logs: Array<{ level: string; msg: string; detail: Record<string, unknown> }>;
const spills: AuditSpill[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(25)) if (await ok()) return;
  throw new Error(`timed out waiting for ${what}`);
}

/** Configured like the services' client: no offline queue, so commands fail at once while Redis is away. */
function client(url: string): Redis {
  const r = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy: () => 50 });
  r.on('error', () => undefined);
  return r;
}

const log: SpillLog = (level, msg, detail) => logs.push({ level, msg, detail });

function producer(over: Partial<AuditSpillOptions> = {}): { spill: AuditSpill; emit: AuditEmitter } {
  const spill = new AuditSpill({ dir, source: 'api', redis, keys, intervalMs: 60_000, log, ...over });
  spills.push(spill);
  return { spill, emit: createAuditEmitter({ redis, keys, hmacKey: KEY, source: 'api', spill }) };
}

async function stream(): Promise<Array<{ fields: Record<string, string>; event: Record<string, any> }>> {
  const rows = (await redis.xrange(keys.key(AUDIT), '-', '+')) as Array<[string, string[]]>;
  return rows.map(([, flat]) => {
    const fields = toFields(flat);
    return { fields, event: JSON.parse(fields.data!) };
  });
}

const spillFiles = () => readdirSync(dir).filter((n) => n.endsWith('.ndjson'));

async function redisDown(): Promise<void> {
  await server.stop();
  await waitFor('the client to notice', () => redis.status !== 'ready');
}

async function redisUp(): Promise<void> {
  await server.start();
  await waitFor('the client to reconnect', () => redis.status === 'ready');
}

/** A signed message as another process would have spilled it. */
function foreignLine(id: string): Buffer {
  return encodeSpillLine(signAuditData(JSON.stringify({ id, source: 'api', occurred_at: new Date().toISOString(), zone_id: 'z', type: 'test.adopted' }), KEY));
}

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

beforeAll(async () => {
  server = await privateRedis();
});
afterAll(async () => {
  await server.remove();
});

beforeEach(async () => {
  prefix = uniquePrefix('spill');
  keys = new StreamKeys(prefix);
  root = mkdtempSync(join(tmpdir(), 'caracal-spill-it-'));
  dir = join(root, 'spool', 'api');
  prepareSpillDir(dir);
  logs = [];
  redis = client(server.url);
  await redis.connect();
});

afterEach(async () => {
  for (const s of spills.splice(0)) await s.stop();
  if (redis.status !== 'ready') await redisUp();
  await clearPrefix(redis, prefix);
  redis.disconnect();
  rmSync(root, { recursive: true, force: true });
});

describe('audit spill', () => {
  it('keeps every event emitted while Redis is unreachable in a 0600 file in a 0700 directory, then publishes each exactly once and removes the file', async () => {
    const { spill, emit } = producer();
    await redisDown();
    const N = 40;
    const events = await Promise.all(Array.from({ length: N }, (_, i) => emit({ zone_id: 'z1', type: 'test.spilled', reason: `n${i}` })));
    expect(spill.status()).toEqual({ spilled: N, lost: 0, replayed: 0 });
    const [file] = spillFiles();
    expect(spillFiles()).toHaveLength(1);
    expect(file).toMatch(new RegExp(`^audit-spill-api-${process.pid}-\\d+-[0-9a-f]{8}\\.ndjson$`));
    expect(statSync(join(dir, file!)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // Resolved emits are on disk already: the file holds them all, signed, one per line.
    const lines = readFileSync(join(dir, file!), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(N);
    expect(new Set(lines.map((l) => JSON.parse(l.data).id))).toEqual(new Set(events.map((e) => e.id)));
    for (const l of lines) expect(verifyAuditData(l, KEY)).toBe(true);

    await spill.drain();
    expect(spill.status().spilled).toBe(N);

    await redisUp();
    await spill.start(50);
    await waitFor('the spill to drain', () => spill.status().spilled === 0);
    // The count reaches 0 when the last line is published; the pass then removes the file and stops holding.
    // Wait for that pass to end before looking at either (drain() joins the pass in progress).
    await spill.drain();
    const entries = await stream();
    expect(entries).toHaveLength(N);
    expect(new Set(entries.map((e) => e.event.id))).toEqual(new Set(events.map((e) => e.id)));
    for (const e of entries) expect(verifyAuditData(e.fields, KEY)).toBe(true);
    expect(spill.status()).toEqual({ spilled: 0, lost: 0, replayed: N });
    expect(spillFiles()).toEqual([]);
    expect(spill.active).toBe(false);
    // Published means published once: no further replay adds anything.
    await spill.drain();
    expect(await stream()).toHaveLength(N);
  });

  it('publishes spilled events before events emitted after Redis returned, and in the order they were emitted', async () => {
    const { spill, emit } = producer();
    await redisDown();
    const before: string[] = [];
    for (let i = 0; i < 5; i++) before.push((await emit({ zone_id: 'z1', type: 'test.before' })).id);
    await redisUp();
    // Redis is back but the spill still holds events: a new one queues behind them.
    const during = (await emit({ zone_id: 'z1', type: 'test.during' })).id;
    expect(spill.status().spilled).toBe(6);
    await spill.drain();
    expect(spill.active).toBe(false);
    const after = (await emit({ zone_id: 'z1', type: 'test.after' })).id;
    expect(spill.status()).toEqual({ spilled: 0, lost: 0, replayed: 6 });
    expect((await stream()).map((e) => e.event.id)).toEqual([...before, during, after]);
  });

  it('adopts and replays the spill file of a dead process, and leaves the file of a live process alone', async () => {
    const dead = deadPid();
    const deadFile = spillFileName('sts', dead, Date.now() - 60_000, '0000dead');
    writeFileSync(join(dir, deadFile), Buffer.concat(['e1', 'e2', 'e3'].map(foreignLine)), { mode: 0o600 });
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const liveFile = spillFileName('sts', sleeper.pid!, Date.now() - 30_000, '0000a11e');
      const liveContent = foreignLine('live-1');
      writeFileSync(join(dir, liveFile), liveContent, { mode: 0o600 });
      // This process's own pid in a file older than the process: a previous life of the same pid (containers).
      const previousLife = spillFileName('api', process.pid, 1_000, '00000001');
      writeFileSync(join(dir, previousLife), foreignLine('e4'), { mode: 0o600 });

      const { spill } = producer();
      await spill.start();
      await waitFor('the adopted files to drain', () => spill.status().replayed === 4);
      expect((await stream()).map((e) => e.event.id)).toEqual(['e4', 'e1', 'e2', 'e3']);
      expect(spillFiles()).toEqual([liveFile]);
      expect(readFileSync(join(dir, liveFile))).toEqual(liveContent);
      expect(spill.status()).toEqual({ spilled: 0, lost: 0, replayed: 4 });
      expect(logs.filter((l) => l.msg.startsWith('adopted')).map((l) => l.detail.owner_pid)).toEqual([process.pid, dead]);
    } finally {
      sleeper.kill();
    }
  });

  it('sets a corrupt line aside in a .corrupt file, counts it as lost, and publishes the lines around it', async () => {
    const dead = deadPid();
    const lines = [foreignLine('c1'), Buffer.from('this is not json\n'), Buffer.from('{"data":"{}"}\n'), foreignLine('c2'), Buffer.from('{"data":"{}","sig":"tor')];
    writeFileSync(join(dir, spillFileName('api', dead, Date.now() - 1000, '0000c0de')), Buffer.concat(lines), { mode: 0o600 });
    const { spill } = producer();
    await spill.start();
    await waitFor('the file to drain', () => spill.status().spilled === 0 && spillFiles().length === 0);
    expect((await stream()).map((e) => e.event.id)).toEqual(['c1', 'c2']);
    expect(spill.status()).toEqual({ spilled: 0, lost: 3, replayed: 2 });
    const corrupt = readdirSync(dir).filter((n) => n.endsWith('.ndjson.corrupt'));
    expect(corrupt).toHaveLength(1);
    expect(statSync(join(dir, corrupt[0]!)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, corrupt[0]!), 'utf8')).toBe('this is not json\n{"data":"{}"}\n{"data":"{}","sig":"tor\n');
    const errors = logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(3);
    expect(errors[0]!.detail).toMatchObject({ reason: 'spill_line_corrupt', corrupt_file: join(dir, corrupt[0]!) });
  });

  it('counts an event as lost when the spill is over its byte cap, and readiness-relevant status says so', async () => {
    const { spill, emit } = producer({ maxBytes: 8 });
    await redisDown();
    const e = await emit({ zone_id: 'z1', type: 'test.lost' });
    expect(spill.status()).toEqual({ spilled: 0, lost: 1, replayed: 0 });
    expect(spillFiles()).toEqual([]);
    expect(spill.active).toBe(false);
    const [error] = logs.filter((l) => l.level === 'error');
    expect(error!.detail).toMatchObject({ reason: 'spill_full', count: 1, event_ids: [e.id], max_bytes: 8 });
    // The log names the event, never its signed content.
    expect(JSON.stringify(logs)).not.toMatch(/[0-9a-f]{64}/);
    await redisUp();
    // Nothing is waiting, so the next event goes straight to Redis; the loss stays counted.
    await emit({ zone_id: 'z1', type: 'test.next' });
    expect((await stream()).map((x) => x.event.type)).toEqual(['test.next']);
    expect(spill.status().lost).toBe(1);
  });

  it('counts events as lost when the spill file cannot be created', async () => {
    const blocked = join(root, 'blocked');
    writeFileSync(blocked, '');
    const { spill, emit } = producer({ dir: join(blocked, 'spool') });
    await redisDown();
    await Promise.all([emit({ zone_id: 'z1', type: 'a' }), emit({ zone_id: 'z1', type: 'b' })]);
    expect(spill.status()).toEqual({ spilled: 0, lost: 2, replayed: 0 });
    expect(logs.find((l) => l.level === 'error')!.detail).toMatchObject({ reason: 'spill_write_failed', error: 'ENOTDIR' });
  });

  it('keeps what it holds on disk across a stop; a later life of the process adopts it, a sibling does not', async () => {
    const { spill, emit } = producer();
    await spill.start();
    await redisDown();
    await emit({ zone_id: 'z1', type: 'test.kept' });
    await spill.stop();
    const [file] = spillFiles();
    expect(spillFiles()).toHaveLength(1);
    await redisUp();
    // Another emitter of this same, live process leaves the file alone.
    const sibling = producer();
    await sibling.spill.start();
    await sibling.spill.drain();
    expect(spillFiles()).toEqual([file]);
    // The next process to hold this pid started after the file was written: it adopts and replays it.
    const next = producer({ startedAtMs: Date.now() + 10_000 });
    await next.spill.start();
    await waitFor('the adopted file to drain', () => next.spill.status().replayed === 1);
    expect((await stream()).map((x) => x.event.type)).toEqual(['test.kept']);
    expect(spillFiles()).toEqual([]);
  });
});
