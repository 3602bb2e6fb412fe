// Delegation edges at the coordinator (R-CO-1) against real Postgres and Redis over real HTTP, with two coordinator
// instances: scopes never widen (grants for a root edge, the parent edge below it), expiry never outlives the source
// or the parent, at most 10 hops, no cycles, no self-delegation, consent across applications, revoke cuts the
// subtree, ending a session revokes its edges; Idempotency-Key, admin-audit rows and audit events.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { startService} from '../../../../test-support/authority.js';
import { startAuthorityStack, stopService, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { coordinatorClient, coordinatorEnv, startTwoCoordinators } from './client.js';

const hex = () => randomBytes(32).toString('hex');
const token = hex();
let s: AuthorityStack;
let north: Provisioned;
let other: Provisioned; // a second application of the north zone
let south: Provisioned;
let c1: Awaited<ReturnType<typeof startService>>;
let c2: Awaited<ReturnType<typeof startService>>;

beforeAll(async () => {
  s = await startAuthorityStack('deleg', {}, { apiEnv: { API_RATE_PER_MIN: '10000' } });
  north = await s.provision('north', {
    scopes: ['items:read', 'items:write'],
    operations: [
      { method: 'GET', path: '/*', scope: 'items:read' },
      { method: 'POST', path: '/*', scope: 'items:write' },
    ],
  });
  south = await s.provision('south');
  const app = await s.admin('POST', '/v1/zones/north/applications', { name: 'reviewer' });
  other = { ...north, clientId: app.body.client_id, clientSecret: app.body.client_secret, applicationId: app.body.id };
  ({ c1, c2 } = await startTwoCoordinators(await coordinatorEnv(s, token, { AGENT_FANOUT_LIMIT: '50' })));
}, 60_000);
afterAll(async () => {
  for (const c of [c1, c2]) if (c) await stopService(c).catch(() => undefined);
  await s?.stop();
});

const call = coordinatorClient(token, () => c1.url);
const z = (p: Provisioned) => `zone_id=${p.zoneId}`;
async function session(p: Provisioned = north, ttl = 600): Promise<string> {
  const r = await call('POST', `/v1/agents?${z(p)}`, { application_id: p.applicationId, ttl_seconds: ttl });
  expect(r.status).toBe(201);
  return r.body.id;
}
const delegate = (source: string, target: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}, p: Provisioned = north, base?: string) =>
  call('POST', `/v1/delegations?${z(p)}`, { source_session_id: source, target_session_id: target, scopes: ['items:read'], ttl_seconds: 300, ...extra }, headers, base);
const edgeAct = (id: string, verb: string, headers: Record<string, string> = {}, p: Provisioned = north) => call('POST', `/v1/delegations/${id}/${verb}?${z(p)}`, undefined, headers);
const bearer = (m: string) => ({ authorization: `Bearer ${m}` });

describe('create', () => {
  it('same application: active at once, hop 1, audited (event and admin-audit row for the operator)', async () => {
    const [a, b] = [await session(), await session()];
    const r = await delegate(a, b, { scopes: ['items:read', 'items:write'] });
    expect(r).toMatchObject({ status: 201, body: { source_session_id: a, target_session_id: b, scopes: ['items:read', 'items:write'], hop_count: 1, path: [], parent_edge_id: null, status: 'active' } });
    expect(r.body.accepted_at).not.toBeNull();
    const admin = await adminQuery(s.db.adminUrl, 'SELECT action FROM caracal.admin_audit_events WHERE target = $1', [`delegation:${r.body.id}`]);
    expect(admin.rows).toEqual([{ action: 'delegation.create' }]);
    const ev = (await s.auditEvents()).find((e) => e.type === 'delegation.created' && e.data?.delegation_id === r.body.id);
    expect(ev).toMatchObject({ zone_id: north.zoneId, decision: 'allow', data: { source_session_id: a, target_session_id: b, status: 'active' } });
    expect(await call('GET', `/v1/delegations/${r.body.id}?${z(north)}`)).toMatchObject({ status: 200, body: { id: r.body.id, status: 'active' } });
    const listed = await call('GET', `/v1/delegations?${z(north)}&session_id=${b}`);
    expect(listed.body.items.map((e: any) => e.id)).toEqual([r.body.id]);
  });

  it('a root edge is bounded by the source application\'s grants; the refusal names the extra scopes and is audited', async () => {
    const [a, b] = [await session(), await session()];
    expect(await delegate(a, b, { scopes: ['items:read', 'admin:all', 'items:delete'] })).toMatchObject({
      status: 409,
      body: { error: 'delegation_scope_exceeded', error_description: `scopes beyond what application '${north.applicationId}' is granted: admin:all, items:delete` },
    });
    const denied = (await s.auditEvents()).filter((e) => e.type === 'delegation.denied' && e.reason === 'delegation_scope_exceeded');
    expect(denied.length).toBeGreaterThan(0);
    expect(denied[0]).toMatchObject({ zone_id: north.zoneId, decision: 'deny' });
  });

  it('a delegated session re-delegates only within its edge: narrower or equal scopes, hop + 1, the path records the chain', async () => {
    const [a, b, c] = [await session(), await session(), await session()];
    const e1 = (await delegate(a, b, { scopes: ['items:read'] })).body;
    expect(await delegate(b, c, { scopes: ['items:read', 'items:write'], ttl_seconds: 200 })).toMatchObject({
      status: 409,
      body: { error: 'delegation_scope_exceeded', error_description: `scopes beyond what parent delegation '${e1.id}': items:write` },
    });
    const e2 = await delegate(b, c, { scopes: ['items:read'], ttl_seconds: 200 });
    expect(e2).toMatchObject({ status: 201, body: { parent_edge_id: e1.id, hop_count: 2, path: [e1.id] } });
    // Named explicitly, the parent must have been made to the source.
    const d = await session();
    expect(await delegate(c, d, { parent_edge_id: e1.id, ttl_seconds: 100 })).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: `parent_edge_id: delegation '${e1.id}' was not made to source session '${c}'` } });
  });

  it('the 11th hop is refused; the 10th is the last', async () => {
    const chain: string[] = [];
    for (let i = 0; i < 12; i++) chain.push(await session());
    // Each hop lives no longer than the one above it.
    for (let i = 0; i < 10; i++) expect((await delegate(chain[i]!, chain[i + 1]!, { ttl_seconds: 300 - i })).body.hop_count).toBe(i + 1);
    const r = await delegate(chain[10]!, chain[11]!, { ttl_seconds: 200 });
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('hop_limit_exceeded');
    expect(r.body.error_description).toMatch(/would be hop 11; the limit is 10$/);
  });

  it('an edge never outlives its source session nor its parent edge', async () => {
    const short = await session(north, 60);
    const b = await session();
    const r = await delegate(short, b, { ttl_seconds: 120 });
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('delegation_expired');
    expect(r.body.error_description).toContain(`after source session '${short}'`);
    const past = await delegate(short, b, { ttl_seconds: undefined, expires_at: new Date(Date.now() - 1000).toISOString() });
    expect(past).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'expires_at: must be in the future' } });
    const [a, c] = [await session(), await session()];
    const e1 = (await delegate(a, b, { ttl_seconds: 30 })).body;
    const longer = await delegate(b, c, { expires_at: new Date(Date.now() + 90_000).toISOString(), ttl_seconds: undefined });
    expect(longer.status).toBe(409);
    expect(longer.body.error_description).toContain(`after parent delegation '${e1.id}'`);
    expect((await delegate(b, c, { ttl_seconds: 20 })).status).toBe(201);
  });

  it('cycles are refused: A→B→A and A→B→C→A', async () => {
    const [a, b, c] = [await session(), await session(), await session()];
    expect((await delegate(a, b)).status).toBe(201);
    expect(await delegate(b, a, { ttl_seconds: 200 })).toMatchObject({ status: 409, body: { error: 'delegation_cycle' } });
    expect((await delegate(b, c, { ttl_seconds: 200 })).status).toBe(201);
    const r = await delegate(c, a, { ttl_seconds: 100 });
    expect(r).toMatchObject({ status: 409, body: { error: 'delegation_cycle', error_description: `session '${a}' already delegates (directly or through others) to '${c}'; this edge would close a cycle` } });
  });

  it('A→B and B→A at once on two instances: exactly one is created, the other is the cycle', async () => {
    const [a, b] = [await session(), await session()];
    const results = await Promise.all([delegate(a, b, { ttl_seconds: 200 }), delegate(b, a, { ttl_seconds: 100 }, {}, north, c2.url)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(results.find((r) => r.status === 409)!.body.error).toBe('delegation_cycle');
  });

  it('a source that is not active cannot delegate', async () => {
    const [a, b] = [await session(), await session()];
    expect((await call('POST', `/v1/agents/${a}/suspend?${z(north)}`)).status).toBe(200);
    expect(await delegate(a, b)).toMatchObject({ status: 409, body: { error: 'session_not_active', error_description: `source session '${a}' is suspended; delegations are made only between active sessions` } });
  });
});

describe('bad input', () => {
  it.each([
    ['self-delegation', (a: string) => ({ target_session_id: a }), 'target_session_id: a session cannot delegate to itself'],
    ['neither ttl_seconds nor expires_at', () => ({ ttl_seconds: undefined }), 'body: exactly one of ttl_seconds and expires_at is required'],
    ['both ttl_seconds and expires_at', () => ({ expires_at: new Date(Date.now() + 60_000).toISOString() }), 'body: exactly one of ttl_seconds and expires_at is required'],
    ['empty scopes', () => ({ scopes: [] }), 'body.scopes must NOT have fewer than 1 items'],
    ['an unknown field', () => ({ unrestricted: true }), "unknown field 'unrestricted' in body"],
    ['a scope with a space', () => ({ scopes: ['items read'] }), 'body.scopes.0 must match pattern "^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$"'],
    ['a ttl of 0', () => ({ ttl_seconds: 0 }), 'body.ttl_seconds must be >= 1'],
  ])('%s → 400', async (_n, patch, description) => {
    const [a, b] = [await session(), await session()];
    const r = await delegate(a, b, patch(a));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
    expect(r.body.error_description).toBe(description);
  });

  it('unknown and foreign-zone sessions, edges and parents are 404, worded alike', async () => {
    const a = await session();
    const foreign = await session(south);
    const unknown = '00000000-0000-4000-8000-000000000042';
    expect(await delegate(a, foreign)).toMatchObject({ status: 404, body: { error: 'not_found', error_description: `agent session '${foreign}' does not exist` } });
    expect(await delegate(a, unknown)).toMatchObject({ status: 404, body: { error_description: `agent session '${unknown}' does not exist` } });
    expect(await delegate(a, await session(), { parent_edge_id: unknown })).toMatchObject({ status: 404, body: { error_description: `delegation '${unknown}' does not exist` } });
    const southEdge = (await delegate(foreign, await session(south), {}, {}, south)).body.id;
    for (const path of [`/v1/delegations/${southEdge}`, `/v1/delegations/${southEdge}/traverse`, `/v1/delegations/${unknown}`]) {
      expect(await call('GET', `${path}?${z(north)}`)).toMatchObject({ status: 404, body: { error: 'not_found' } });
    }
    for (const verb of ['accept', 'revoke']) expect(await edgeAct(southEdge, verb)).toMatchObject({ status: 404, body: { error_description: `delegation '${southEdge}' does not exist` } });
    expect((await call('GET', `/v1/delegations/${southEdge}?${z(south)}`)).status).toBe(200);
  });

  it('a malformed id, an unknown query field and a body on an action route are refused', async () => {
    expect((await call('GET', `/v1/delegations/nope?${z(north)}`)).status).toBe(400);
    expect((await call('GET', `/v1/delegations?${z(north)}&source=x`)).status).toBe(400);
    expect((await call('GET', `/v1/delegations?${z(north)}&limit=0`)).body.error_description).toBe('limit: must be an integer from 1 to 500');
    const e = (await delegate(await session(), await session())).body.id;
    expect((await call('POST', `/v1/delegations/${e}/revoke?${z(north)}`, { cascade: false })).status).toBe(400);
  });
});

describe('consent across applications', () => {
  it('an edge to another application\'s session is pending until that application accepts; the source cannot accept it', async () => {
    const a = await session(north);
    const t = await session(other);
    const r = await delegate(a, t);
    expect(r).toMatchObject({ status: 201, body: { status: 'pending', accepted_at: null } });
    // A pending edge is no authority: the target re-delegates only within its own application's grants (none).
    expect((await delegate(t, await session(other))).body.error).toBe('delegation_scope_exceeded');
    expect(await edgeAct(r.body.id, 'accept', bearer(await s.session(north)))).toMatchObject({
      status: 403,
      body: { error: 'application_mismatch', error_description: "a session mandate accepts only delegations made to its own application's sessions" },
    });
    const ok = await edgeAct(r.body.id, 'accept', bearer(await s.session(other)));
    expect(ok).toMatchObject({ status: 200, body: { id: r.body.id, status: 'active' } });
    expect(await edgeAct(r.body.id, 'accept')).toMatchObject({ status: 409, body: { error: 'delegation_already_accepted' } });
    // The application's own accept is filed in its zone's ledger, not the admin audit.
    expect((await adminQuery(s.db.adminUrl, "SELECT 1 FROM caracal.admin_audit_events WHERE target = $1 AND action = 'delegation.accept'", [`delegation:${r.body.id}`])).rows).toHaveLength(0);
    expect((await s.auditEvents()).find((e) => e.type === 'delegation.accepted' && e.data?.delegation_id === r.body.id)).toMatchObject({ client_id: other.clientId });
  });

  it('the operator may accept; a same-application edge needs no accept', async () => {
    const r = await delegate(await session(north), await session(other));
    expect((await edgeAct(r.body.id, 'accept')).body.status).toBe('active');
    expect((await adminQuery(s.db.adminUrl, "SELECT 1 FROM caracal.admin_audit_events WHERE target = $1 AND action = 'delegation.accept'", [`delegation:${r.body.id}`])).rows).toHaveLength(1);
  });

  it('a mandate delegates only from its own application\'s sessions; another\'s reads as unknown', async () => {
    const source = await session(north);
    const r = await delegate(source, await session(north), {}, bearer(await s.session(other)));
    expect(r).toMatchObject({ status: 404, body: { error: 'not_found', error_description: `agent session '${source}' does not exist` } });
    const own = await delegate(await session(north), await session(north), {}, bearer(await s.session(north)));
    expect(own.status).toBe(201);
  });
});

describe('revoke and traverse', () => {
  it('traverse shows the chain to the edge and the subtree below; revoke cuts exactly that, in one transaction', async () => {
    const [a, b, c, d, e] = [await session(), await session(), await session(), await session(), await session()];
    const e1 = (await delegate(a, b)).body.id;
    const e2 = (await delegate(b, c, { ttl_seconds: 200 })).body.id;
    const e3 = (await delegate(c, d, { ttl_seconds: 100 })).body.id;
    const side = (await delegate(a, e)).body.id;
    const t = await call('GET', `/v1/delegations/${e2}/traverse?${z(north)}`);
    expect(t.status).toBe(200);
    expect(t.body.chain.map((x: any) => x.id)).toEqual([e1, e2]);
    expect(t.body.subtree.map((x: any) => x.id)).toEqual([e3]);
    const r = await edgeAct(e1, 'revoke');
    expect(r).toMatchObject({ status: 200, body: { id: e1, status: 'revoked', revoked: 3, descendants_revoked: expect.arrayContaining([e2, e3]) } });
    expect((await call('GET', `/v1/delegations/${e3}?${z(north)}`)).body.status).toBe('revoked');
    expect((await call('GET', `/v1/delegations/${side}?${z(north)}`)).body.status).toBe('active');
    expect(await edgeAct(e1, 'revoke')).toMatchObject({ status: 409, body: { error: 'delegation_revoked' } });
    const revoked = (await s.auditEvents()).filter((x) => x.type === 'delegation.revoked' && [e1, e2, e3].includes(x.data?.delegation_id));
    expect(revoked).toHaveLength(3);
    expect((await adminQuery(s.db.adminUrl, "SELECT 1 FROM caracal.admin_audit_events WHERE target = $1 AND action = 'delegation.revoke'", [`delegation:${e1}`])).rows).toHaveLength(1);
    // With its authority cut, b may again delegate only within its application's grants (a new root edge).
    expect((await delegate(b, c)).body).toMatchObject({ hop_count: 1, parent_edge_id: null });
  });

  it('a mandate revokes only delegations from or to its own application\'s sessions; another\'s reads as unknown', async () => {
    const e = (await delegate(await session(north), await session(north))).body.id;
    expect(await edgeAct(e, 'revoke', bearer(await s.session(other)))).toMatchObject({ status: 404, body: { error: 'not_found', error_description: `delegation '${e}' does not exist` } });
    expect(await edgeAct(e, 'revoke', bearer(await s.session(north)))).toMatchObject({ status: 200, body: { status: 'revoked', revoked: 1 } });
  });

  it('ending a session revokes the edges from and to it and its subtree, and every edge below them', async () => {
    const [a, b, c] = [await session(), await session(), await session()];
    const e1 = (await delegate(a, b)).body.id;
    const e2 = (await delegate(b, c, { ttl_seconds: 200 })).body.id;
    const ended = await call('POST', `/v1/agents/${b}/end?${z(north)}`);
    expect(ended.status).toBe(200);
    expect([...ended.body.delegations_revoked].sort()).toEqual([e1, e2].sort());
    for (const id of [e1, e2]) expect((await call('GET', `/v1/delegations/${id}?${z(north)}`)).body.status).toBe('revoked');
  });
});

describe('Idempotency-Key', () => {
  it('a malformed key is 400', async () => {
    const [a, b] = [await session(), await session()];
    expect(await delegate(a, b, {}, { 'idempotency-key': 'has space' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: 'Idempotency-Key: only printable ASCII without spaces or control characters is allowed' },
    });
  });

  it('two concurrent creates with one key on two instances → one edge; a replay answers the same; another body is 409', async () => {
    const [a, b] = [await session(), await session()];
    const key = `deleg-${hex()}`;
    const [x, y] = await Promise.all([delegate(a, b, {}, { 'idempotency-key': key }), delegate(a, b, {}, { 'idempotency-key': key }, north, c2.url)]);
    expect([x.status, y.status]).toEqual([201, 201]);
    expect(y.body.id).toBe(x.body.id);
    const rows = await adminQuery(s.db.adminUrl, 'SELECT id FROM caracal.delegation_edges WHERE source_session_id = $1', [a]);
    expect(rows.rows).toHaveLength(1);
    expect(await delegate(a, b, { ttl_seconds: 299 }, { 'idempotency-key': key })).toMatchObject({ status: 409, body: { error: 'conflict' } });
    const rk = `revoke-${hex()}`;
    const [r1, r2] = await Promise.all([edgeAct(x.body.id, 'revoke', { 'idempotency-key': rk }), edgeAct(x.body.id, 'revoke', { 'idempotency-key': rk })]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(r2.body).toEqual(r1.body);
  });
});
