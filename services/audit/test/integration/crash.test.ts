// Crash safety (R-STR-4, R-AUD-2): the real audit service process is killed with SIGKILL while 50,000 events
// are being published; after a restart every event is in the ledger exactly once, in gap-free chains that verify.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainKey, createPool } from '../../../../packages/db/dist/index.js';
import { verifyZone } from '../../../../packages/ledger/dist/index.js';
import { signAuditData, STREAMS } from '../../../../packages/streams/dist/index.js';
import { REPO } from '../../../../test-support/cli.js';
import { adminQuery } from '../../../../test-support/db.js';
import { freePort } from '../../../../test-support/deps.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness;
const TOTAL = 50_000;
const ZONES = 5;

beforeAll(async () => {
  h = await createHarness('crash');
});
afterAll(async () => h.cleanup());

async function spawnAudit(): Promise<ChildProcess> {
  const env = { ...h.env({ AUDIT_RECLAIM_IDLE_MS: '1000', AUDIT_SWEEP_INTERVAL_S: '0' }), PORT: String(await freePort()), PATH: process.env.PATH ?? '' };
  const child = spawn(process.execPath, [join(REPO, 'services', 'audit', 'dist', 'main.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', () => undefined);
  return child;
}

const count = async () => Number((await adminQuery<{ n: string }>(h.db.adminUrl, 'SELECT count(*) AS n FROM caracal.audit_events')).rows[0]!.n);

describe('crash safety', () => {
  it('kill -9 mid-ingest, restart: every one of 50,000 events is in the ledger exactly once', async () => {
    const zones = await Promise.all(Array.from({ length: ZONES }, () => h.zone()));
    let child = await spawnAudit();
    const key = h.keys.key(STREAMS.auditEvents);
    let killedAt = -1;
    for (let sent = 0; sent < TOTAL; sent += 1000) {
      const p = h.redis.pipeline();
      for (let i = sent; i < sent + 1000; i++) {
        const signed = signAuditData(JSON.stringify(h.event(zones[i % ZONES]!, { data: { i } })), h.hmacKey);
        p.xadd(key, '*', 'data', signed.data, 'sig', signed.sig);
      }
      await p.exec();
      if (killedAt < 0 && (await count()) >= 5000) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        killedAt = await count();
        child = await spawnAudit();
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(TOTAL);
    await h.waitFor('all events', async () => (await count()) >= TOTAL, 150_000);
    // A little longer: anything still pending (reclaimed from the dead consumer) must not add rows.
    await h.waitFor('no pending', async () => Number(((await h.redis.xpending(key, 'audit')) as [number])[0]) === 0, 60_000);
    const stats = await adminQuery<{ n: string; ids: string; max_i: string }>(
      h.db.adminUrl,
      "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, count(DISTINCT (data->'data'->>'i')) AS max_i FROM caracal.audit_events",
    );
    expect(stats.rows[0]).toEqual({ n: String(TOTAL), ids: String(TOTAL), max_i: String(TOTAL) });
    expect(await h.dlq()).toEqual([]);
    const pool = createPool({ connectionString: h.db.roleUrl('audit'), applicationName: 'crash-test' });
    try {
      for (const z of zones) {
        const report = await verifyZone({ pool, redis: h.redis, keys: h.keys, key: chainKey(h.hmacKey) }, z);
        expect(report).toMatchObject({ ok: true, checked: TOTAL / ZONES, first_seq: 1, last_seq: TOTAL / ZONES });
      }
    } finally {
      await pool.end();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
