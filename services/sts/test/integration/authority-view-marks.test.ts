// The authority view's bookkeeping against a real PostgreSQL (authority/view.ts): a read keeps its answer only if no
// notification of its zone arrived while it ran; a zone's notification drops that zone's contexts and no other; '*'
// or any payload that is not a zone id drops every zone's; with an announcing trigger disabled, or enabled for
// origin sessions only, the view serves nothing until it fires always again; a stopped view serves nothing.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHORITY_CHANNEL, createPool, type Pool } from '../../../../packages/db/dist/index.js';
import { createLogger } from '../../../../packages/logging/dist/index.js';
import { adminQuery, createMigratedDatabase, type MigratedDatabase } from '../../../../test-support/db.js';
import { AuthorityView } from '../../dist/authority/index.js';

/** Zone ids as the triggers send them: a payload that is not a zone id drops every zone. */
const Z = { a: randomUUID(), b: randomUUID(), c: randomUUID(), d: randomUUID(), e: randomUUID(), f: randomUUID() };
let db: MigratedDatabase;
let pool: Pool;
let view: AuthorityView<{ n: number }>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const notify = (zone: string) => adminQuery(db.adminUrl, 'SELECT pg_notify($1, $2)', [AUTHORITY_CHANNEL, zone]);

async function untilFresh(fresh = true): Promise<void> {
  const started = Date.now();
  while (view.fresh() !== fresh) {
    if (Date.now() - started > 5000) throw new Error(`the view was not ${fresh ? 'fresh' : 'stale'} within 5 s`);
    await sleep(10);
  }
}

/** Until the view has handled every notification committed so far: a probe of its own sent after them came back. */
async function settled(): Promise<void> {
  // provenAt is on the view's clock, the monotonic one.
  const sentAfter = performance.now();
  await sleep(5);
  const started = Date.now();
  while (view.provenAt <= sentAfter) {
    if (Date.now() - started > 5000) throw new Error('no proof came back within 5 s');
    await sleep(10);
  }
}

beforeAll(async () => {
  db = await createMigratedDatabase('stsviewmarks');
  pool = createPool({ connectionString: db.adminUrl, applicationName: 'caracal-sts-test' });
  view = new AuthorityView({ pool, logger: createLogger({ service: 'sts', level: 'silent' }), maxEntries: 100, staleMs: 200, ttlMs: 60_000 });
  view.start();
  await untilFresh();
});
afterAll(async () => {
  await view.stop();
  await pool.end();
  await db.drop();
});

describe('the authority view against PostgreSQL', () => {
  it('keeps a read during which nothing of its zone was announced', async () => {
    const mark = view.mark(Z.a);
    expect(mark).toBeDefined();
    view.put(Z.a, 'k1', { n: 1 }, 60_000, mark);
    expect(view.get(Z.a, 'k1')).toEqual({ n: 1 });
    expect(Object.isFrozen(view.get(Z.a, 'k1'))).toBe(true);
  });

  it('does not keep a read during which its zone was announced; another zone does not stop it', async () => {
    const markA = view.mark(Z.a);
    const markB = view.mark(Z.b);
    await notify(Z.b);
    await settled();
    view.put(Z.a, 'k2', { n: 2 }, 60_000, markA);
    view.put(Z.b, 'k2', { n: 2 }, 60_000, markB);
    expect(view.get(Z.a, 'k2')).toEqual({ n: 2 });
    expect(view.get(Z.b, 'k2')).toBeUndefined();
  });

  it("a zone's notification drops that zone's contexts only; '*' drops every zone's", async () => {
    view.put(Z.c, 'k', { n: 3 }, 60_000, view.mark(Z.c));
    view.put(Z.d, 'k', { n: 4 }, 60_000, view.mark(Z.d));
    await notify(Z.c);
    await settled();
    expect(view.get(Z.c, 'k')).toBeUndefined();
    expect(view.get(Z.d, 'k')).toEqual({ n: 4 });
    await notify('*');
    await settled();
    expect(view.get(Z.d, 'k')).toBeUndefined();
    expect(view.size).toBe(0);
  });

  it('a payload that is not a zone id (empty, upper case, anything else) drops every zone', async () => {
    await notify('*');
    await settled();
    for (const payload of ['', Z.c.toUpperCase(), 'zone-c', `${Z.c} `]) {
      view.put(Z.c, 'k', { n: 3 }, 60_000, view.mark(Z.c));
      view.put(Z.d, 'k', { n: 4 }, 60_000, view.mark(Z.d));
      expect(view.size).toBe(2);
      await notify(payload);
      await settled();
      expect(view.size).toBe(0);
    }
  });

  it('with an announcing trigger disabled or not firing always, the view drops everything and serves nothing until it is back', async () => {
    view.put(Z.f, 'k', { n: 7 }, 60_000, view.mark(Z.f));
    expect(view.get(Z.f, 'k')).toEqual({ n: 7 });
    // Disabled, then enabled for origin sessions only: a session with session_replication_role = replica would
    // write without announcing, so that is as good as off.
    for (const state of ['DISABLE', 'ENABLE']) {
      await adminQuery(db.adminUrl, `ALTER TABLE caracal.grants ${state} TRIGGER grants_authority_changed`);
      try {
        await untilFresh(false);
        expect(view.size).toBe(0);
        expect(view.mark(Z.f)).toBeUndefined();
        // Stays so while the trigger is off: every probe finds it.
        await sleep(500);
        expect(view.fresh()).toBe(false);
      } finally {
        await adminQuery(db.adminUrl, 'ALTER TABLE caracal.grants ENABLE ALWAYS TRIGGER grants_authority_changed');
      }
      await untilFresh();
    }
    await untilFresh();
    view.put(Z.f, 'k', { n: 7 }, 60_000, view.mark(Z.f));
    expect(view.get(Z.f, 'k')).toEqual({ n: 7 });
  });

  it('a read that began before the connection was lost is not kept, and a stopped view serves nothing', async () => {
    const mark = view.mark(Z.e);
    view.put(Z.e, 'kept', { n: 5 }, 60_000, view.mark(Z.e));
    const pids = await adminQuery<{ pid: number }>(db.adminUrl, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_notify(%' AND pid <> pg_backend_pid()");
    expect(pids.rows).toHaveLength(1);
    await adminQuery(db.adminUrl, 'SELECT pg_terminate_backend($1)', [pids.rows[0]!.pid]);
    const started = Date.now();
    while (view.fresh() && Date.now() - started < 5000) await sleep(10);
    expect(view.get(Z.e, 'kept')).toBeUndefined();
    await untilFresh();
    view.put(Z.e, 'late', { n: 6 }, 60_000, mark);
    expect(view.get(Z.e, 'late')).toBeUndefined();
    expect(view.get(Z.e, 'kept')).toBeUndefined();
    view.put(Z.e, 'kept', { n: 5 }, 60_000, view.mark(Z.e));
    await view.stop();
    expect(view.fresh()).toBe(false);
    expect(view.get(Z.e, 'kept')).toBeUndefined();
  });
});
