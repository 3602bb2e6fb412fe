// The in-memory authority view of two sts processes on one database (authority/view.ts, migration 0026): repeated
// exchanges are answered from memory, and a change to what a context holds reaches both processes through
// PostgreSQL's notification, whoever makes it (the api or plain SQL): a removed grant, a revoked session, a
// disabled application. A listening connection that is killed, or hung (its backend stopped with SIGSTOP), makes no
// process answer from memory past AUTHORITY_VIEW_STALE_MS; the view comes back once it listens again.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, EXCHANGE, startAuthorityStack, startService, stopService, type AuthorityStack, type Provisioned, type Running } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { freePort } from '../../../../test-support/deps.js';
import { buildApp } from '../../dist/app.js';
import { loadConfig } from '../../dist/config.js';

const STALE_MS = 400;
/** How long a change may take to reach a process: the staleness bound, with room for a loaded machine. */
const REACH_MS = STALE_MS + 2600;
/**
 * Longer than REACH_MS, so that a hung listening connection's probe does not time out first: only staleness can
 * make a process read the store within the bound.
 */
const VIEW_ENV = { AUTHORITY_VIEW_STALE_MS: String(STALE_MS), PG_QUERY_TIMEOUT_MS: '10000' };

let s: AuthorityStack;
let second: Running;

beforeAll(async () => {
  s = await startAuthorityStack('stsview', {}, { stsEnv: VIEW_ENV });
  const port = await freePort();
  second = await startService(
    'sts',
    buildApp,
    loadConfig({
      ...s.env,
      PORT: String(port),
      DATABASE_URL: s.db.roleUrl('sts'),
      AUDIT_SPILL_DIR: join(s.spillRoot, 'sts-2'),
      AUTH_FAILURES_PER_MIN: '1000',
      ...VIEW_ENV,
    }),
  );
});
afterAll(async () => {
  await stopService(second);
  await s.stop();
});

const instances = () => [s.sts, second];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exchangeAt(url: string, p: Provisioned, session: string, scope = 'items:read'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/oauth/2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: session, subject_token_type: ACCESS, resource: p.resource, scope }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Contexts this process has read from memory, or from the store. */
async function reads(r: Running, source: 'view' | 'store'): Promise<number> {
  const text = await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${s.env.METRICS_BEARER}` } }).then((res) => res.text());
  const line = text.split('\n').find((l) => l.startsWith('caracal_sts_authority_context_reads_total{') && l.includes(`source="${source}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Exchanges at `r` until one answers `status` (its body), failing past REACH_MS with the last answer's status and error. */
async function untilStatus(r: Running, p: Provisioned, session: string, status: number, scope?: string): Promise<Record<string, unknown>> {
  const started = Date.now();
  for (;;) {
    const res = await exchangeAt(r.url, p, session, scope);
    if (res.status === status) return res.body;
    if (Date.now() - started > REACH_MS) throw new Error(`still ${res.status} ${String(res.body.error ?? res.body.token_type)} after ${REACH_MS} ms at ${r.url}`);
    await sleep(20);
  }
}

/** Both processes answer `session` from memory within the bound (a view that is listening again starts empty). */
async function servedFromMemory(p: Provisioned, session: string): Promise<void> {
  for (const r of instances()) {
    const started = Date.now();
    for (;;) {
      const before = await reads(r, 'view');
      expect((await exchangeAt(r.url, p, session)).status).toBe(200);
      if ((await reads(r, 'view')) === before + 1) break;
      if (Date.now() - started > REACH_MS) throw new Error(`no exchange answered from memory in ${REACH_MS} ms at ${r.url}`);
      await sleep(20);
    }
  }
}

const sidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;

/** The backends of the processes' listening connections: the only ones whose last statement is a probe. */
async function listeners(): Promise<number[]> {
  const rows = await adminQuery<{ pid: number }>(s.db.adminUrl, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_notify(%'");
  return rows.rows.map((r) => r.pid);
}

/** A provisioned zone whose session both processes answer from memory, and the two listening backends. */
async function servedWithListeners(slug: string): Promise<{ p: Provisioned; session: string; pids: number[] }> {
  const p = await s.provision(slug);
  const session = await s.session(p);
  await servedFromMemory(p, session);
  const pids = await listeners();
  expect(pids).toHaveLength(2);
  return { p, session, pids };
}

/** Revokes (or restores) the application's grants in plain SQL, as an operator could. */
const grantRevoked = (p: Provisioned, revoked: boolean) =>
  adminQuery(s.db.adminUrl, `UPDATE caracal.grants SET revoked_at = ${revoked ? 'now()' : 'NULL'} WHERE application_id = $1`, [p.applicationId]);

async function refusedUngranted(r: Running, p: Provisioned, session: string): Promise<void> {
  expect((await untilStatus(r, p, session, 403)).error_description).toMatch(/resource_not_granted/);
}

describe('the authority view of two sts processes', () => {
  it('answers a repeated exchange from memory in each process', async () => {
    const p = await s.provision('memory');
    const session = await s.session(p);
    await servedFromMemory(p, session);
  });

  it('a grant deleted through the api is refused by both processes within the bound; a new grant is honoured', async () => {
    const p = await s.provision('grantdel');
    const session = await s.session(p);
    await servedFromMemory(p, session);
    const grants = await s.admin('GET', `/v1/zones/${p.slug}/grants`);
    const deleted = await s.admin('DELETE', `/v1/zones/${p.slug}/grants/${grants.body.items[0].id}`);
    expect(deleted.status).toBe(200);
    for (const r of instances()) {
      await refusedUngranted(r, p, session);
      // Refused from then on: a denial is never kept, so each exchange reads the store again.
      expect((await exchangeAt(r.url, p, session)).status).toBe(403);
    }
    const granted = await s.admin('POST', `/v1/zones/${p.slug}/grants`, { application: p.clientId, resource: p.resource, scopes: ['items:read', 'items:write'] });
    expect(granted.status).toBe(201);
    for (const r of instances()) expect((await untilStatus(r, p, session, 200, 'items:write')).token_type).toBe('Bearer');
  });

  it('a session revoked through the api is refused by both processes within the bound', async () => {
    const p = await s.provision('sessrev');
    const session = await s.session(p);
    await servedFromMemory(p, session);
    expect((await s.admin('POST', `/v1/zones/${p.slug}/sessions/${sidOf(session)}/revoke`, {})).status).toBe(200);
    for (const r of instances()) expect((await untilStatus(r, p, session, 400)).error_description).toMatch(/lineage_revoked/);
  });

  it('a change made in plain SQL reaches both processes: the application disabled, then enabled again', async () => {
    const p = await s.provision('sqlchange');
    const session = await s.session(p);
    await servedFromMemory(p, session);
    await adminQuery(s.db.adminUrl, 'UPDATE caracal.applications SET disabled_at = now() WHERE id = $1', [p.applicationId]);
    for (const r of instances()) expect((await untilStatus(r, p, session, 400)).error_description).toMatch(/lineage_revoked/);
    await adminQuery(s.db.adminUrl, 'UPDATE caracal.applications SET disabled_at = NULL WHERE id = $1', [p.applicationId]);
    await servedFromMemory(p, session);
  });

  it('with the listening connections killed, a change made meanwhile is refused, and the view comes back', async () => {
    const { p, session, pids } = await servedWithListeners('killed');
    await adminQuery(s.db.adminUrl, 'SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    await grantRevoked(p, true);
    for (const r of instances()) await refusedUngranted(r, p, session);
    await grantRevoked(p, false);
    await servedFromMemory(p, session);
    expect((await listeners()).filter((pid) => !pids.includes(pid))).toHaveLength(2);
  });

  it('with the listening connections hung (SIGSTOP), nothing is answered from memory past the bound', async () => {
    const { p, session, pids } = await servedWithListeners('hung');
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      // The stopped backends cannot pass the change on: only staleness makes the processes read the store.
      await grantRevoked(p, true);
      for (const r of instances()) await refusedUngranted(r, p, session);
      for (const r of instances()) {
        const view = await reads(r, 'view');
        expect((await exchangeAt(r.url, p, session)).status).toBe(403);
        expect(await reads(r, 'view')).toBe(view);
      }
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    await grantRevoked(p, false);
    await servedFromMemory(p, session);
  });
});
