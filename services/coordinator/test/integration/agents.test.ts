// Agent sessions at the coordinator (R-CO-1) against real Postgres and Redis over real HTTP, with two coordinator
// instances: operator auth, schemas, lifecycle, subtree end, Idempotency-Key, admin-audit rows (R-AUD-5), audit
// events, the fan-out race and the expiry sweeper running on both instances at once.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../packages/logging/dist/index.js';
import type { startService} from '../../../../test-support/authority.js';
import { startAuthorityStack, stopService, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { decodePayload, signWith, signWithStrangerKey, zoneKey } from '../../../../test-support/forge.js';
import { freePort } from '../../../../test-support/deps.js';
import { buildApp } from '../../src/app.js';
import { loadConfig, type CoordinatorConfig } from '../../src/config.js';
import type { CoordinatorContext } from '../../src/context.js';
import { sweepExpired } from '../../src/sessions/sweeper.js';
import { coordinatorClient, coordinatorEnv as sharedEnv, startTwoCoordinators } from './client.js';

const hex = () => randomBytes(32).toString('hex');
const token = hex();
let s: AuthorityStack;
let north: Provisioned;
let south: Provisioned;
let c1: Awaited<ReturnType<typeof startService>>;
let c2: Awaited<ReturnType<typeof startService>>;
let config: CoordinatorConfig;

const coordinatorEnv = (extra: Record<string, string> = {}) => sharedEnv(s, token, { AGENT_FANOUT_LIMIT: '2', ...extra });

beforeAll(async () => {
  s = await startAuthorityStack('coord', {}, { apiEnv: { API_RATE_PER_MIN: '10000' } });
  north = await s.provision('north');
  south = await s.provision('south');
  ({ config, c1, c2 } = await startTwoCoordinators(await coordinatorEnv()));
}, 60_000);
afterAll(async () => {
  for (const c of [c1, c2]) if (c) await stopService(c).catch(() => undefined);
  await s?.stop();
});

const call = coordinatorClient(token, () => c1.url);
const z = (p: Provisioned) => `zone_id=${p.zoneId}`;
const start = (p: Provisioned, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}, base?: string) =>
  call('POST', `/v1/agents?${z(p)}`, { application_id: p.applicationId, ttl_seconds: 600, ...extra }, headers, base);
const act = (p: Provisioned, id: string, verb: string, headers: Record<string, string> = {}) => call('POST', `/v1/agents/${id}/${verb}?${z(p)}`, undefined, headers);

describe('authentication', () => {
  it.each([
    ['no header', undefined, 'a bearer token is required (the coordinator token or a session mandate)'],
    ['malformed', 'Bearer a b', 'the bearer token is malformed'],
    ['not a mandate', 'Bearer abc', 'the session mandate is not acceptable (malformed_token)'],
    ['another token', `Bearer ${hex()}`, 'the bearer token is not the coordinator token'],
  ])('%s → 401 invalid_token', async (_n, header, description) => {
    const res = await fetch(`${c1.url}/v1/agents?${z(north)}`, { headers: header ? { authorization: header } : {} });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'invalid_token', error_description: description });
  });
});

describe('session mandates (agent:lifecycle)', () => {
  const withMandate = (mandate: string, method: string, path: string, body?: unknown) => call(method, path, body, { authorization: `Bearer ${mandate}` });

  it('an application starts and drives its own sessions in its own zone; no admin-audit row, an audit event naming the client', async () => {
    const m = await s.session(north);
    const started = await withMandate(m, 'POST', '/v1/agents', { ttl_seconds: 120 });
    expect(started).toMatchObject({ status: 201, body: { zone_id: north.zoneId, application_id: north.applicationId, status: 'active' } });
    const child = await withMandate(m, 'POST', `/v1/agents?${z(north)}`, { ttl_seconds: 60, parent_id: started.body.id, application_id: north.applicationId });
    expect(child.body.depth).toBe(1);
    expect((await withMandate(m, 'POST', `/v1/agents/${started.body.id}/end`)).body.descendants_ended).toEqual([child.body.id]);
    const admin = await adminQuery(s.db.adminUrl, 'SELECT 1 FROM caracal.admin_audit_events WHERE target = $1', [`agent_session:${started.body.id}`]);
    expect(admin.rows).toHaveLength(0);
    const ev = (await s.auditEvents()).find((e) => e.type === 'agent.session.started' && e.data?.agent_session_id === started.body.id);
    expect(ev).toMatchObject({ zone_id: north.zoneId, client_id: north.clientId, subject: `client:${north.clientId}` });
  });

  it('the coordinator role reads the public half of the signing keys and never the sealed private half', async () => {
    const { Client } = (await import('pg')).default;
    const c = new Client({ connectionString: s.db.roleUrl('coordinator') });
    await c.connect();
    try {
      await expect(c.query('SELECT private_sealed FROM caracal.signing_keys')).rejects.toThrow(/permission denied/);
      await expect(c.query('SELECT kid, public_jwk FROM caracal.signing_keys')).resolves.toBeDefined();
    } finally {
      await c.end();
    }
  });

  it('a zone-B mandate on a zone-A session is a 404, and naming zone A is a 403', async () => {
    const foreign = (await start(north)).body.id;
    const m = await s.session(south);
    expect(await withMandate(m, 'GET', `/v1/agents/${foreign}`)).toMatchObject({ status: 404, body: { error: 'not_found', error_description: `agent session '${foreign}' does not exist` } });
    expect((await withMandate(m, 'POST', `/v1/agents/${foreign}/end`)).status).toBe(404);
    expect(await withMandate(m, 'GET', `/v1/agents/${foreign}?${z(north)}`)).toMatchObject({ status: 403, body: { error: 'zone_mismatch', error_description: 'this session mandate is for another zone' } });
    expect((await call('GET', `/v1/agents/${foreign}?${z(north)}`)).body.status).toBe('active');
    // The refusals are filed in the zone the mandate proved, never in the zone it asked about.
    const denied = (await s.auditEvents()).filter((e) => e.type === 'agent.session.denied' && e.client_id === south.clientId);
    expect(denied.map((e) => [e.zone_id, e.reason, e.data.status])).toEqual([
      [south.zoneId, 'not_found', 404],
      [south.zoneId, 'not_found', 404],
      [south.zoneId, 'zone_mismatch', 403],
    ]);
  });

  it('one Idempotency-Key used by the operator and by an application is two keys, never a shared answer', async () => {
    const key = `shared-${hex()}`;
    const m = await s.session(north);
    const body = { ttl_seconds: 30, application_id: north.applicationId };
    const byOperator = await call('POST', `/v1/agents?${z(north)}`, body, { 'idempotency-key': key });
    const byApp = await call('POST', `/v1/agents?${z(north)}`, body, { 'idempotency-key': key, authorization: `Bearer ${m}` });
    expect([byOperator.status, byApp.status]).toEqual([201, 201]);
    expect(byApp.body.id).not.toBe(byOperator.body.id);
    expect(byApp.headers.get('idempotent-replayed')).toBeNull();
  });

  it('another application of the zone cannot be named by a mandate', async () => {
    const other = await s.admin('POST', '/v1/zones/north/applications', { name: 'other' });
    expect(await withMandate(await s.session(north), 'POST', '/v1/agents', { ttl_seconds: 5, application_id: other.body.id })).toMatchObject({
      status: 403,
      body: { error: 'application_mismatch', error_description: 'a session mandate starts sessions only for its own application' },
    });
  });

  it('a mandate without agent:lifecycle → 403 insufficient_scope; wrong use, forged keys and revoked lineage → 401', async () => {
    const session = await s.session(north);
    const claims = decodePayload(session);
    const key = await zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, north.zoneId);
    const noScope = await signWith(key.privateKey, key.kid, { ...claims, jti: randomBytes(8).toString('hex'), scope: 'items:read' });
    const refused = await withMandate(noScope, 'GET', '/v1/agents');
    expect(refused).toMatchObject({ status: 403, body: { error: 'insufficient_scope', error_description: "the mandate lacks the 'agent:lifecycle' scope" } });
    expect(refused.headers.get('www-authenticate')).toContain('insufficient_scope');
    const ev = (await s.auditEvents()).find((e) => e.type === 'agent.session.denied' && e.request_id === refused.headers.get('x-request-id'));
    expect(ev).toMatchObject({ zone_id: north.zoneId, decision: 'deny', reason: 'insufficient_scope', data: { status: 403 } });
    const cases: Array<[string, string]> = [
      [await s.mandate(north), 'wrong_use'],
      [await signWithStrangerKey(claims, key.kid), 'bad_signature'],
      [await signWith(key.privateKey, key.kid, { ...claims, aud: 'resource://elsewhere' }), 'wrong_audience'],
      [await signWith(key.privateKey, key.kid, { ...claims, exp: Math.floor(Date.now() / 1000) - 60 }), 'token_expired'],
    ];
    for (const [token, reason] of cases) {
      expect(await withMandate(token, 'GET', '/v1/agents')).toMatchObject({ status: 401, body: { error: 'invalid_token', error_description: `the session mandate is not acceptable (${reason})` } });
    }
    expect((await s.admin('POST', `/v1/zones/north/sessions/${claims.sid}/revoke`, {})).status).toBe(200);
    expect(await withMandate(session, 'POST', '/v1/agents', { ttl_seconds: 5 })).toMatchObject({ status: 401, body: { error_description: 'the session mandate is not acceptable (session_revoked)' } });
  });
});

describe('bad input', () => {
  it.each([
    [{ ttl_seconds: 0 }, 'body.ttl_seconds must be >= 1'],
    [{ ttl_seconds: 86_401 }, 'body.ttl_seconds must be <= 86400'],
    [{ ttl_seconds: 1.5 }, 'body.ttl_seconds must be integer'],
    [{ colour: 'red' }, "unknown field 'colour' in body"],
    [{ parent_id: 'nope' }, 'body.parent_id must match format "uuid"'],
  ])('start with %j → 400', async (extra, description) => {
    expect(await start(north, extra)).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: description } });
  });

  it('a missing or malformed zone_id, an unknown zone, an unknown application → named refusals', async () => {
    expect(await call('GET', '/v1/agents')).toMatchObject({ status: 400, body: { error_description: 'zone_id: is required with the coordinator token' } });
    expect(await call('POST', `/v1/agents?${z(north)}`, { ttl_seconds: 5 })).toMatchObject({ status: 400, body: { error_description: 'application_id: is required with the coordinator token' } });
    expect(await call('GET', '/v1/agents?zone_id=x')).toMatchObject({ status: 400, body: { error_description: 'querystring.zone_id must match format "uuid"' } });
    const ghost = '00000000-0000-4000-8000-000000000001';
    expect(await call('GET', `/v1/agents?zone_id=${ghost}`)).toMatchObject({ status: 404, body: { error: 'not_found', error_description: `zone '${ghost}' does not exist` } });
    expect(await start(north, { application_id: south.applicationId })).toMatchObject({ status: 400, body: { error_description: `application_id: no application '${south.applicationId}' in this zone` } });
  });

  it('an unknown session id and a session of another zone are both 404, worded alike', async () => {
    const foreign = (await start(south)).body.id;
    const unknown = '00000000-0000-4000-8000-000000000002';
    for (const id of [foreign, unknown]) {
      expect(await call('GET', `/v1/agents/${id}?${z(north)}`)).toEqual(expect.objectContaining({ status: 404, body: { error: 'not_found', error_description: `agent session '${id}' does not exist` } }));
      expect((await act(north, id, 'suspend')).status).toBe(404);
      expect((await call('GET', `/v1/agents/${id}/tree?${z(north)}`)).status).toBe(404);
    }
    expect(await start(north, { parent_id: foreign })).toMatchObject({ status: 400, body: { error_description: `parent_id: no agent session '${foreign}' in this zone` } });
    expect((await call('GET', `/v1/agents/${foreign}?${z(south)}`)).body.status).toBe('active');
  });

  it('a body on an action route, a bad status filter and a forged cursor are refused', async () => {
    const id = (await start(north)).body.id;
    expect(await call('POST', `/v1/agents/${id}/suspend?${z(north)}`, { force: true })).toMatchObject({ status: 400, body: { error_description: "unknown field 'force' in body" } });
    expect((await call('GET', `/v1/agents?${z(north)}&status=zombie`)).status).toBe(400);
    for (const limit of ['0', '501', 'x', '1.5']) expect(await call('GET', `/v1/agents?${z(north)}&limit=${limit}`)).toMatchObject({ status: 400, body: { error_description: 'limit: must be an integer from 1 to 500' } });
    expect(await call('GET', `/v1/agents?${z(north)}&cursor=abc`)).toMatchObject({ status: 400, body: { error_description: 'cursor: is not a cursor this service issued' } });
  });
});

describe('lifecycle', () => {
  it('start → heartbeat → suspend → (heartbeat refused) → resume → end ends the subtree; every change audited', async () => {
    const root = await start(north);
    expect(root.status).toBe(201);
    expect(root.body).toMatchObject({ zone_id: north.zoneId, application_id: north.applicationId, parent_id: null, depth: 0, status: 'active', ttl_seconds: 600, ended_at: null });
    const child = (await start(north, { parent_id: root.body.id })).body;
    const grandchild = (await start(north, { parent_id: child.id })).body;
    expect([child.depth, grandchild.depth]).toEqual([1, 2]);

    const tree = await call('GET', `/v1/agents/${root.body.id}/tree?${z(north)}`);
    expect(tree.body.items.map((x: any) => x.id)).toEqual([root.body.id, child.id, grandchild.id]);

    const beat = await act(north, root.body.id, 'heartbeat');
    expect(beat.status).toBe(200);
    expect(Date.parse(beat.body.last_heartbeat_at)).toBeGreaterThanOrEqual(Date.parse(root.body.last_heartbeat_at));
    expect((await act(north, root.body.id, 'suspend')).body.status).toBe('suspended');
    expect(await act(north, root.body.id, 'heartbeat')).toMatchObject({ status: 409, body: { error: 'session_suspended', error_description: `agent session '${root.body.id}' is suspended; it cannot heartbeat` } });
    const twice = await act(north, root.body.id, 'suspend');
    expect(twice).toMatchObject({ status: 409, body: { error: 'session_suspended' } });
    const deniedEvent = (await s.auditEvents()).find((e) => e.type === 'agent.session.denied' && e.request_id === twice.headers.get('x-request-id'));
    expect(deniedEvent).toMatchObject({ zone_id: north.zoneId, decision: 'deny', reason: 'session_suspended', subject: 'coordinator:operator', data: { status: 409, route: '/v1/agents/:id/suspend' } });
    expect(await start(north, { parent_id: root.body.id })).toMatchObject({ status: 409, body: { error: 'parent_not_active' } });
    expect((await act(north, root.body.id, 'resume')).body.status).toBe('active');
    expect(await act(north, root.body.id, 'resume')).toMatchObject({ status: 409, body: { error: 'session_active' } });

    const ended = await act(north, root.body.id, 'end');
    expect(ended.body.status).toBe('ended');
    expect(ended.body.descendants_ended.sort()).toEqual([child.id, grandchild.id].sort());
    const after = await call('GET', `/v1/agents/${root.body.id}/tree?${z(north)}`);
    expect(after.body.items.map((x: any) => x.status)).toEqual(['ended', 'ended', 'ended']);
    expect(await act(north, grandchild.id, 'heartbeat')).toMatchObject({ status: 409, body: { error: 'session_ended' } });
    expect(await act(north, root.body.id, 'end')).toMatchObject({ status: 409, body: { error: 'session_ended' } });

    const audit = await adminQuery(s.db.adminUrl, "SELECT action, target, actor FROM caracal.admin_audit_events WHERE target = $1 ORDER BY seq", [`agent_session:${root.body.id}`]);
    expect(audit.rows.map((r) => r.action)).toEqual(['agent_session.start', 'agent_session.heartbeat', 'agent_session.suspend', 'agent_session.resume', 'agent_session.end']);
    expect(audit.rows.every((r) => r.actor === 'coordinator:operator')).toBe(true);
    const events = (await s.auditEvents()).filter((e) => e.source === 'coordinator' && [root.body.id, child.id, grandchild.id].includes(e.data?.agent_session_id));
    expect(events.map((e) => e.type).filter((t) => t === 'agent.session.ended')).toHaveLength(3);
    expect(events.find((e) => e.type === 'agent.session.started' && e.data.agent_session_id === root.body.id)).toMatchObject({ zone_id: north.zoneId, decision: 'allow', subject: 'coordinator:operator' });
  });

  it('depth 10 is the deepest a session may be', async () => {
    let parent = (await start(north)).body.id;
    for (let d = 1; d <= 10; d++) parent = (await start(north, { parent_id: parent })).body.id;
    expect((await call('GET', `/v1/agents/${parent}?${z(north)}`)).body.depth).toBe(10);
    expect(await start(north, { parent_id: parent })).toMatchObject({ status: 409, body: { error: 'depth_limit_exceeded' } });
  });

  it('list filters by status and parent and pages with a cursor', async () => {
    const parent = (await start(north)).body.id;
    const kids = [(await start(north, { parent_id: parent })).body.id, (await start(north, { parent_id: parent })).body.id];
    await act(north, kids[0]!, 'suspend');
    const page1 = await call('GET', `/v1/agents?${z(north)}&parent_id=${parent}&limit=1`);
    const page2 = await call('GET', `/v1/agents?${z(north)}&parent_id=${parent}&limit=1&cursor=${page1.body.next_cursor}`);
    expect([...page1.body.items, ...page2.body.items].map((x: any) => x.id).sort()).toEqual([...kids].sort());
    const suspended = await call('GET', `/v1/agents?${z(north)}&parent_id=${parent}&status=suspended`);
    expect(suspended.body).toEqual({ items: [expect.objectContaining({ id: kids[0] })], next_cursor: null });
    const southList = await call('GET', `/v1/agents?${z(south)}`);
    expect(southList.body.items.every((x: any) => x.zone_id === south.zoneId)).toBe(true);
  });
});

describe('Idempotency-Key', () => {
  it('a replay returns the stored answer; the same key with another body is 409; no second session', async () => {
    const key = `k-${hex()}`;
    const first = await start(north, {}, { 'idempotency-key': key });
    const again = await start(north, {}, { 'idempotency-key': key }, c2.url);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await start(north, { ttl_seconds: 601 }, { 'idempotency-key': key })).toMatchObject({ status: 409, body: { error: 'conflict', error_description: 'Idempotency-Key: this key was already used with a different request' } });
    const stored = await adminQuery(s.db.adminUrl, 'SELECT key_digest FROM caracal.idempotency_keys WHERE response_body->>\'id\' = $1', [first.body.id]);
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.key_digest).not.toContain(key);
    expect(stored.rows[0]!.key_digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['empty', '', 'Idempotency-Key: must not be empty'],
    ['256 bytes', 'k'.repeat(256), 'Idempotency-Key: must be at most 255 bytes'],
    ['a control character', 'abc\tdef', 'Idempotency-Key: only printable ASCII without spaces or control characters is allowed'],
  ])('%s → 400', async (_n, key, description) => {
    expect(await start(north, {}, { 'idempotency-key': key })).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: description } });
  });

  it('two concurrent requests with one key on two instances → one session', async () => {
    const key = `race-${hex()}`;
    const before = await adminQuery(s.db.adminUrl, 'SELECT count(*)::int AS n FROM caracal.agent_sessions WHERE zone_id = $1', [north.zoneId]);
    const [a, b] = await Promise.all([start(north, {}, { 'idempotency-key': key }), start(north, {}, { 'idempotency-key': key }, c2.url)]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).toBe(b.body.id);
    const after = await adminQuery(s.db.adminUrl, 'SELECT count(*)::int AS n FROM caracal.agent_sessions WHERE zone_id = $1', [north.zoneId]);
    expect(after.rows[0]!.n - before.rows[0]!.n).toBe(1);
  });

  it('a suspend replayed after the session changed still answers what it answered', async () => {
    const id = (await start(north)).body.id;
    const key = `s-${hex()}`;
    expect((await act(north, id, 'suspend', { 'idempotency-key': key })).status).toBe(200);
    expect((await act(north, id, 'resume')).status).toBe(200);
    expect(await act(north, id, 'suspend', { 'idempotency-key': key })).toMatchObject({ status: 200, body: { id, status: 'suspended' } });
    expect((await call('GET', `/v1/agents/${id}?${z(north)}`)).body.status).toBe('active');
  });
});

describe('two coordinator instances', () => {
  it('two concurrent child starts that together exceed the fan-out limit: exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      const parent = (await start(north)).body.id;
      expect((await start(north, { parent_id: parent })).status).toBe(201);
      const results = await Promise.all([start(north, { parent_id: parent }), start(north, { parent_id: parent }, {}, c2.url)]);
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
      expect(results.find((r) => r.status === 409)!.body.error).toBe('fanout_limit_exceeded');
      const live = await adminQuery(s.db.adminUrl, "SELECT count(*)::int AS n FROM caracal.agent_sessions WHERE parent_id = $1 AND status = 'active'", [parent]);
      expect(live.rows[0]!.n).toBe(2);
    }
  });

  it('both sweepers at once expire each due session exactly once', async () => {
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await start(i % 2 ? north : south, { ttl_seconds: 1 })).body.id as string);
    await new Promise((r) => setTimeout(r, 1300));
    // Before any sweep an expired session already refuses a heartbeat.
    expect(await act(north, ids[1]!, 'heartbeat')).toMatchObject({ status: 409, body: { error: 'session_expired' } });
    const emitted: string[] = [];
    const ctxOf = (deps: any): CoordinatorContext => ({ config, deps, logger: createLogger({ service: 'coordinator', level: 'silent' }), outbox: { flush: async () => undefined }, emit: async (e) => (emitted.push(String(e.data?.agent_session_id)), { ...e, id: '', source: '', occurred_at: '' }) });
    const [a, b] = await Promise.all([sweepExpired(ctxOf(c1.deps)), sweepExpired(ctxOf(c2.deps))]);
    const swept = [...a, ...b];
    for (const id of ids) expect(swept.filter((x) => x === id)).toHaveLength(1);
    expect(new Set(emitted).size).toBe(emitted.length);
    expect((await call('GET', `/v1/agents/${ids[0]}?${z(south)}`)).body).toMatchObject({ status: 'expired', ended_at: expect.any(String) });
    expect(await act(south, ids[0]!, 'resume')).toMatchObject({ status: 409, body: { error: 'session_expired' } });
  });
});

describe('fail closed', () => {
  it.each([
    ['Postgres', (port: number) => ({ DATABASE_URL: `postgres://x:y@127.0.0.1:${port}/none` })],
    ['Redis', (port: number) => ({ REDIS_URL: `redis://127.0.0.1:${port}` })],
  ])('%s down → 503', async (_n, override) => {
    const dead = await freePort();
    const env = await coordinatorEnv({ ...override(dead), PG_QUERY_TIMEOUT_MS: '500', REDIS_COMMAND_TIMEOUT_MS: '500' });
    const { connectDeps, closeDeps } = await import('../../../../packages/service-kit/dist/index.js');
    const cfg = loadConfig(env);
    const logger = createLogger({ service: 'coordinator', level: 'silent' });
    const deps = connectDeps(cfg, 'coordinator', logger);
    const { app } = await buildApp(cfg, deps, logger, { sweeper: false });
    try {
      const res = await app.inject({ method: 'POST', url: `/v1/agents?${z(north)}`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: { application_id: north.applicationId, ttl_seconds: 60 } });
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toBe('temporarily_unavailable');
    } finally {
      await app.close();
      await closeDeps(deps);
    }
  });
});
