// The real services under the supervisor, several workers each (CARACAL_<SERVICE>_WORKERS), driven by the real CLI
// against external Postgres and Redis: a revocation reaches both gateway workers and a key rotation both STS
// workers (each connection's worker is found by the process holding its server side); rolls of the gateway and
// the STS under continuous kept-alive traffic lose nothing; a handover keeps every worker; `down` stops it all.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, EXCHANGE, startUpstream, type UpstreamControl } from '../../../../test-support/authority.js';
import { caracal, REPO } from '../../../../test-support/cli.js';
import { handoverSupervisor, rollService, supervisorStatus, type SupervisorState } from '../../src/stack/supervisor-control.js';
import { alive, externalStack, oneConnectionPerWorker, SERVICES, trafficLoops, type PinnedConnection } from './supervisor-support.js';

const V = JSON.parse(readFileSync(join(REPO, 'apps', 'runtime', 'package.json'), 'utf8')).version as string;
const form = (f: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(f).toString() });
const kidOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).kid as string;

describe('real services with several workers', () => {
  const stack = externalStack('workers');
  const { env, home, url } = stack;
  let upstream: UpstreamControl;
  let app: { client_id: string; client_secret: string };
  let zoneId = '';
  const pids = (s: SupervisorState, service: string) => s.services[service]!.workers.map((w) => w.pid!);
  const cli = async (...args: string[]) => {
    const r = await caracal([...args, '--json'], env);
    if (r.exitCode !== 0) throw new Error(`caracal ${args.join(' ')} → ${r.exitCode}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const post = async (path: string, f: Record<string, string>) => {
    const res = await fetch(`${url('sts')}${path}`, { ...form(f), headers: { ...form(f).headers, connection: 'close' } });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const session = async () => {
    const r = await post('/oauth/2/token', { grant_type: 'client_credentials', client_id: app.client_id, client_secret: app.client_secret });
    expect(r.status).toBe(200);
    return r.body.access_token!;
  };
  const exchange = (subject: string) => ({ grant_type: EXCHANGE, subject_token: subject, subject_token_type: ACCESS, resource: 'resource://billing-api', scope: 'invoices:read' });
  const mint = async (subject: string) => {
    const r = await post('/oauth/2/token', exchange(subject));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.access_token!;
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    await stack.init();
    const up = await caracal(['up'], { ...env, CARACAL_GATEWAY_WORKERS: '2', CARACAL_STS_WORKERS: '2' });
    expect(up.exitCode, up.stderr).toBe(0);
    zoneId = (await cli('zone', 'create', 'payments', '--name', 'Payments')).id;
    app = await cli('app', 'create', '--zone', 'payments', '--name', 'invoice-agent');
    const credFile = join(stack.dir, 'credential');
    writeFileSync(credFile, 'sk_upstream_key\n', { mode: 0o600 });
    await cli('resource', 'create', '--zone', 'payments', '--id', 'resource://billing-api', '--upstream', upstream.url, '--credential-file', credFile, '--operation', 'GET /invoices*=invoices:read');
    await cli('grant', 'create', '--zone', 'payments', '--app', app.client_id, '--resource', 'resource://billing-api', '--scopes', 'invoices:read');
  });

  afterAll(async () => {
    await stack.remove();
    await upstream.close();
  });

  it('two gateway workers and two STS workers on their one port each; status lists every PID', async () => {
    const s = await supervisorStatus(home);
    const report = JSON.parse((await caracal(['status', '--ready', '--json'], env)).stdout);
    expect(report.ok).toBe(true);
    for (const service of ['gateway', 'sts']) {
      const row = report.services.find((x: { service: string }) => x.service === service);
      expect(row).toMatchObject({ version: V, workers: { ready: 2, total: 2, desired: 2 } });
      expect(row.pids.sort()).toEqual(pids(s, service).sort());
    }
  });

  it('a revocation makes both gateway workers deny within the revocation bound (their own cache, not the STS)', async () => {
    const s = await supervisorStatus(home);
    const gateways = pids(s, 'gateway');
    const subject = await session();
    // Mandates are single-use (jti): mint them all before the revocation.
    const mandates = await Promise.all(Array.from({ length: 4 }, () => mint(subject)));
    const conns = await oneConnectionPerWorker(url('gateway'), gateways);
    const call = (c: PinnedConnection, mandate: string) => c.call({ path: '/billing-api/invoices/1', headers: { authorization: `Bearer ${mandate}` } });
    for (const [i, c] of [...conns.values()].entries()) expect((await call(c, mandates[i]!)).status).toBe(200);
    const sid = JSON.parse(Buffer.from(subject.split('.')[1]!, 'base64url').toString()).sid as string;
    await cli('session', 'revoke', '--zone', 'payments', sid, '--reason', 'two workers');
    // The bound (bench/revocation: p99 ≤ 100 ms from the revoke call returning).
    await new Promise((r) => setTimeout(r, 100));
    for (const [i, [pid, c]] of [...conns.entries()].entries()) {
      const denied = await call(c, mandates[2 + i]!);
      expect(denied.status, `gateway worker ${pid}`).toBe(401);
      // The gateway's own revocation cache answered: the STS backstop would say "denied: lineage_revoked".
      expect(denied.headers['www-authenticate'], `gateway worker ${pid}`).toContain('the mandate lineage is revoked');
      c.close();
    }
  });

  it('a key rotation is seen by both STS workers: each signs with the new kid, serves it in the JWKS, and both gateways accept it', async () => {
    const s = await supervisorStatus(home);
    const subject = await session();
    const exchangeOn = async (c: PinnedConnection) => {
      const f = form(exchange(subject));
      const r = await c.call({ path: '/oauth/2/token', method: 'POST', headers: f.headers, body: f.body });
      expect(r.status, r.body).toBe(200);
      return JSON.parse(r.body).access_token as string;
    };
    // Each STS worker signs once first, so each has the current key cached.
    const before = await oneConnectionPerWorker(url('sts'), pids(s, 'sts'));
    const oldKids = await Promise.all([...before.values()].map(exchangeOn));
    for (const c of before.values()) c.close();
    expect(new Set(oldKids.map(kidOf)).size).toBe(1);
    const rotation = await cli('zone', 'rotate-key', 'payments');
    expect(rotation.previous_kid).toBe(kidOf(oldKids[0]!));
    await new Promise((r) => setTimeout(r, 100));
    const after = await oneConnectionPerWorker(url('sts'), pids(s, 'sts'));
    const minted: string[] = [];
    for (const [pid, c] of after) {
      const token = await exchangeOn(c);
      expect(kidOf(token), `sts worker ${pid}`).toBe(rotation.kid);
      minted.push(token);
      const jwks = await c.call({ path: `/.well-known/jwks.json?zone_id=${zoneId}` });
      const kids = (JSON.parse(jwks.body) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
      expect(kids, `sts worker ${pid}`).toEqual(expect.arrayContaining([rotation.kid, rotation.previous_kid]));
      c.close();
    }
    const gateways = await oneConnectionPerWorker(url('gateway'), pids(s, 'gateway'));
    for (const [i, [pid, c]] of [...gateways.entries()].entries()) {
      const r = await c.call({ path: '/billing-api/invoices/2', headers: { authorization: `Bearer ${minted[i]}` } });
      expect(r.status, `gateway worker ${pid}: ${r.body}`).toBe(200);
      c.close();
    }
  });

  it('rolls the gateway, then the STS, under continuous kept-alive exchanges and gateway calls: no reset, no non-2xx', async () => {
    const subject = await session();
    const before = await supervisorStatus(home);
    // Each round: a token exchange at the STS (a POST, not idempotent), then a gateway call with that mandate.
    const traffic = trafficLoops(4, async (send) => {
      const t = await send(url('sts'), { path: '/oauth/2/token', ...form(exchange(subject)) });
      if (t?.status !== 200) return;
      await send(url('gateway'), { path: '/billing-api/invoices/3', headers: { authorization: `Bearer ${JSON.parse(t.body).access_token}` } });
    });
    await new Promise((r) => setTimeout(r, 1000));
    const rolledGateway = await rollService(home, { service: 'gateway', root: REPO, version: V, readyTimeoutMs: 60_000, restart: true });
    const rolledSts = await rollService(home, { service: 'sts', root: REPO, version: V, readyTimeoutMs: 60_000, restart: true });
    await new Promise((r) => setTimeout(r, 1000));
    const report = await traffic.stop();
    expect(rolledGateway).toMatchObject({ ok: true, service: 'gateway', from: { version: V }, to: { version: V } });
    expect(rolledSts).toMatchObject({ ok: true, service: 'sts', from: { version: V }, to: { version: V } });
    expect(report.errors).toEqual([]);
    expect(report.statuses, report.failures.join('\n')).toEqual({ 200: report.sent });
    expect(report.perBase[url('gateway')]![200]).toBeGreaterThan(20);
    const after = await supervisorStatus(home);
    for (const service of ['gateway', 'sts']) {
      const old = pids(before, service);
      expect(pids(after, service).filter((p) => old.includes(p))).toEqual([]);
      for (const p of old) expect(alive(p)).toBe(false);
      expect(after.services[service]!.workers.map((w) => w.status)).toEqual(['ready', 'ready']);
    }
  });

  it('a handover keeps every worker serving; down afterwards stops everything', async () => {
    const before = await supervisorStatus(home);
    const workers = SERVICES.flatMap((s) => pids(before, s));
    const reply = await handoverSupervisor(home, { root: REPO, version: V });
    expect(reply).toMatchObject({ ok: true });
    const after = await supervisorStatus(home);
    expect(after.pid).toBe((reply as { pid: number }).pid);
    expect(after.pid).not.toBe(before.pid);
    expect(SERVICES.flatMap((s) => pids(after, s))).toEqual(workers);
    const status = await caracal(['status', '--ready', '--json'], env);
    expect(JSON.parse(status.stdout).ok).toBe(true);
    const subject = await session();
    const res = await fetch(`${url('gateway')}/billing-api/invoices/4`, { headers: { authorization: `Bearer ${await mint(subject)}` } });
    expect(res.status).toBe(200);
    const down = await caracal(['down'], env);
    expect(down.exitCode, down.stderr).toBe(0);
    for (const p of [after.pid, ...workers]) expect(alive(p), `pid ${p}`).toBe(false);
  });
});
