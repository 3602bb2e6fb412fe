// R-AUD-1 end to end: Redis goes away while a producer emits. The events are kept in the producer's fsynced spill,
// replayed when Redis returns, and chained by the real audit service — none lost, none duplicated, in order.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainKey } from '../../../../packages/db/dist/index.js';
import { verifyZone } from '../../../../packages/ledger/dist/index.js';
import { AuditSpill, createAuditEmitter, prepareSpillDir } from '../../../../packages/streams/dist/index.js';
import { privateRedis, type PrivateRedis } from '../../../../test-support/private-redis.js';
import type { AuditRunnable } from '../../src/app.js';
import { createHarness, type Harness } from './harness.js';

let server: PrivateRedis;
let h: Harness;
let spillDir: string;

beforeAll(async () => {
  server = await privateRedis();
  h = await createHarness('spill', { redisUrl: server.url });
  spillDir = mkdtempSync(join(tmpdir(), 'caracal-spill-ledger-'));
});
afterAll(async () => {
  await h.cleanup().catch(() => undefined);
  await server.remove();
  rmSync(spillDir, { recursive: true, force: true });
});

describe('producer spill to ledger', () => {
  it('events emitted while Redis is down are spilled, replayed and chained exactly once, in order', async () => {
    const zone = await h.zone();
    const svc: AuditRunnable & { deps: unknown } = await h.start({ AUDIT_SWEEP_INTERVAL_S: '0' });
    // The producer's Redis client is configured like the services': no offline queue, so it fails at once.
    const producerRedis = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy: () => 100 });
    producerRedis.on('error', () => undefined);
    await producerRedis.connect();
    prepareSpillDir(join(spillDir, 'api'));
    const spill = new AuditSpill({ dir: join(spillDir, 'api'), source: 'api', redis: producerRedis, keys: h.keys, intervalMs: 200 });
    await spill.start();
    const emit = createAuditEmitter({ redis: producerRedis, keys: h.keys, hmacKey: h.hmacKey, source: 'api', spill });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push((await emit({ zone_id: zone, type: 'mandate.issued', decision: 'allow', data: { i } })).id);
      await h.waitFor('first ten rows', async () => (await h.rows(zone)).length === 10);

      await server.stop();
      for (let i = 10; i < 60; i++) ids.push((await emit({ zone_id: zone, type: 'mandate.issued', decision: 'allow', data: { i } })).id);
      expect(spill.status()).toMatchObject({ spilled: 50, lost: 0 });
      expect(readdirSync(join(spillDir, 'api')).filter((f) => f.endsWith('.ndjson'))).toHaveLength(1);

      await server.start();
      await h.waitFor('all sixty rows', async () => (await h.rows(zone)).length >= 60, 60_000);
      await h.waitFor('spill drained', async () => spill.status().spilled === 0);
      const rows = await h.rows(zone);
      expect(rows.map((r) => r.event_id)).toEqual(ids);
      expect(rows.map((r) => Number(r.chain_seq))).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(spill.status()).toMatchObject({ spilled: 0, lost: 0, replayed: 50 });
      expect(readdirSync(join(spillDir, 'api')).filter((f) => f.endsWith('.ndjson'))).toEqual([]);
      expect(await h.dlq()).toEqual([]);
      const report = await verifyZone({ pool: (svc.deps as { pool: never }).pool, redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey) }, zone);
      expect(report).toMatchObject({ ok: true, checked: 60, last_seq: 60 });
    } finally {
      await spill.stop();
      producerRedis.disconnect();
    }
  });
});
