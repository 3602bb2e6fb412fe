// Per-application confinement at the coordinator (R-CO-1) against real Postgres and Redis over real HTTP: a session
// mandate reads and acts only on its own application's sessions and the edges from or to them, and whatever it may
// not see answers exactly as an unknown id; trees and traverses show other applications' nodes reduced; delegation
// lists page with a validated cursor; the receiving application declines a pending delegation for good.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { startService } from '../../../../test-support/authority.js';
import { startAuthorityStack, stopService, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { coordinatorClient, coordinatorEnv, startTwoCoordinators, type Res } from './client.js';

const token = randomBytes(32).toString('hex');
let s: AuthorityStack;
let north: Provisioned; // the planner application
let other: Provisioned; // the reviewer application of the same zone
let third: Provisioned; // a bystander application of the same zone
let c1: Awaited<ReturnType<typeof startService>>;
let c2: Awaited<ReturnType<typeof startService>>;
const mandates = new Map<Provisioned, string>();

async function appOf(name: string, scopes?: string[]): Promise<Provisioned> {
  const app = await s.admin('POST', '/v1/zones/north/applications', { name });
  if (scopes) expect((await s.admin('POST', '/v1/zones/north/grants', { application: app.body.client_id, resource: north.resource, scopes })).status).toBe(201);
  return { ...north, clientId: app.body.client_id, clientSecret: app.body.client_secret, applicationId: app.body.id };
}

beforeAll(async () => {
  s = await startAuthorityStack('confine', {}, { apiEnv: { API_RATE_PER_MIN: '10000' } });
  north = await s.provision('north', { scopes: ['items:read', 'items:write'] });
  other = await appOf('reviewer', ['items:read']);
  third = await appOf('bystander');
  for (const p of [north, other, third]) mandates.set(p, await s.session(p));
  ({ c1, c2 } = await startTwoCoordinators(await coordinatorEnv(s, token)));
}, 60_000);
afterAll(async () => {
  for (const c of [c1, c2]) if (c) await stopService(c).catch(() => undefined);
  await s?.stop();
});

const call = coordinatorClient(token, () => c1.url);
const z = () => `zone_id=${north.zoneId}`;
/** As the application's session mandate (no zone_id: the mandate's own). */
const as = (p: Provisioned, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  call(method, path, body, { authorization: `Bearer ${mandates.get(p)!}`, ...headers });
async function session(p: Provisioned, parent?: string): Promise<string> {
  const r = await call('POST', `/v1/agents?${z()}`, { application_id: p.applicationId, ttl_seconds: 600, ...(parent ? { parent_id: parent } : {}) });
  expect(r.status).toBe(201);
  return r.body.id;
}
async function edge(source: string, target: string, ttl = 300, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call('POST', `/v1/delegations?${z()}`, { source_session_id: source, target_session_id: target, scopes: ['items:read'], ttl_seconds: ttl, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
const unknownSession = (id: string) => ({ status: 404, body: { error: 'not_found', error_description: `agent session '${id}' does not exist` } });
const unknownEdge = (id: string) => ({ status: 404, body: { error: 'not_found', error_description: `delegation '${id}' does not exist` } });
const ids = (r: Res) => r.body.items.map((x: any) => x.id) as string[];
const FORGED = { status: 400, body: { error: 'invalid_request', error_description: 'cursor: is not a cursor this service issued' } };
const cursorOf = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
const UNKNOWN = '00000000-0000-4000-8000-00000000abcd';

describe('sessions', () => {
  it("another application's session reads and acts exactly like an unknown one; it is left untouched", async () => {
    const theirs = await session(other);
    for (const id of [theirs, UNKNOWN]) {
      expect(await as(north, 'GET', `/v1/agents/${id}`)).toMatchObject(unknownSession(id));
      expect(await as(north, 'GET', `/v1/agents/${id}/tree`)).toMatchObject(unknownSession(id));
      for (const verb of ['heartbeat', 'suspend', 'resume', 'end']) expect(await as(north, 'POST', `/v1/agents/${id}/${verb}`)).toMatchObject(unknownSession(id));
    }
    expect((await call('GET', `/v1/agents/${theirs}?${z()}`)).body).toMatchObject({ status: 'active', application_id: other.applicationId });
    expect(await as(other, 'GET', `/v1/agents/${theirs}`)).toMatchObject({ status: 200, body: { id: theirs } });
    // The refusals are audited like any other: the caller's client, not_found.
    const denied = (await s.auditEvents()).filter((e) => e.type === 'agent.session.denied' && e.client_id === north.clientId && e.reason === 'not_found');
    expect(denied.length).toBeGreaterThanOrEqual(12);
  });

  it("a mandate starts children only under its own application's sessions; another's parent reads as unknown", async () => {
    const theirs = await session(other);
    const body = (parent: string) => ({ ttl_seconds: 60, parent_id: parent });
    for (const id of [theirs, UNKNOWN]) {
      expect(await as(north, 'POST', '/v1/agents', body(id))).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: `parent_id: no agent session '${id}' in this zone` } });
    }
    expect((await call('GET', `/v1/agents?${z()}&parent_id=${theirs}`)).body.items).toEqual([]);
    const mine = await session(north);
    expect(await as(north, 'POST', '/v1/agents', body(mine))).toMatchObject({ status: 201, body: { parent_id: mine, depth: 1 } });
  });

  it('the list holds only the caller\'s own sessions, paged with a cursor; the operator sees the whole zone', async () => {
    const parent = await session(north);
    // The operator places children of two applications under one parent.
    const kids = [await session(north, parent), await session(other, parent), await session(north, parent)];
    const byNorth = await as(north, 'GET', `/v1/agents?parent_id=${parent}`);
    expect(ids(byNorth)).toEqual([kids[0], kids[2]]);
    expect(ids(await as(other, 'GET', `/v1/agents?parent_id=${parent}`))).toEqual([kids[1]]);
    expect(ids(await as(third, 'GET', `/v1/agents?parent_id=${parent}`))).toEqual([]);
    expect(ids(await call('GET', `/v1/agents?${z()}&parent_id=${parent}`))).toEqual(kids);
    const all = await as(north, 'GET', '/v1/agents?limit=500');
    expect(all.body.items.every((x: any) => x.application_id === north.applicationId)).toBe(true);
    // Paging skips what the caller may not see: page 1 ends at kids[0], page 2 is kids[2].
    const p1 = await as(north, 'GET', `/v1/agents?parent_id=${parent}&limit=1`);
    expect(ids(p1)).toEqual([kids[0]]);
    const p2 = await as(north, 'GET', `/v1/agents?parent_id=${parent}&limit=1&cursor=${p1.body.next_cursor}`);
    expect(ids(p2)).toEqual([kids[2]]);
    expect((await as(north, 'GET', `/v1/agents?parent_id=${parent}&limit=1&cursor=${p2.body.next_cursor}`)).body).toEqual({ items: [], next_cursor: null });
  });

  it("cursors: forged, edited, unknown, another list's or naming another application's row → the same 400", async () => {
    const theirs = await session(other);
    const mine = await session(north);
    const e = await edge(mine, await session(north));
    for (const cursor of ['abc', cursorOf(UNKNOWN), cursorOf(theirs), cursorOf(e), `${cursorOf(mine)}=`, cursorOf(mine.toUpperCase())]) {
      expect(await as(north, 'GET', `/v1/agents?cursor=${cursor}`)).toMatchObject(FORGED);
    }
    // The same cursor from the operator, who sees the row, is one this service issued.
    expect((await call('GET', `/v1/agents?${z()}&cursor=${cursorOf(theirs)}`)).status).toBe(200);
    expect((await as(north, 'GET', `/v1/agents?cursor=${cursorOf(mine)}`)).status).toBe(200);
  });

  it("a tree reduces another application's sessions to their place and status; the operator sees them in full", async () => {
    const root = await session(north);
    const mid = await session(other, root);
    const leaf = await session(north, mid);
    const t = await as(north, 'GET', `/v1/agents/${root}/tree`);
    expect(t.status).toBe(200);
    expect(t.body.items).toHaveLength(3);
    expect(t.body.items[0]).toMatchObject({ id: root, application_id: north.applicationId, ttl_seconds: 600 });
    expect(t.body.items[1]).toEqual({ id: mid, parent_id: root, depth: 1, status: 'active', redacted: true });
    expect(t.body.items[2]).toMatchObject({ id: leaf, parent_id: mid, application_id: north.applicationId });
    expect(t.body.items[2].redacted).toBeUndefined();
    expect(await as(other, 'GET', `/v1/agents/${root}/tree`)).toMatchObject(unknownSession(root));
    const fromMid = await as(other, 'GET', `/v1/agents/${mid}/tree`);
    expect(fromMid.body.items).toEqual([expect.objectContaining({ id: mid, application_id: other.applicationId }), { id: leaf, parent_id: mid, depth: 2, status: 'active', redacted: true }]);
    const full = await call('GET', `/v1/agents/${root}/tree?${z()}`);
    expect(full.body.items.map((x: any) => [x.id, x.application_id, x.redacted])).toEqual([
      [root, north.applicationId, undefined],
      [mid, other.applicationId, undefined],
      [leaf, north.applicationId, undefined],
    ]);
  });
});

describe('delegations', () => {
  it('an edge is seen by the applications of its two ends only; to anyone else it reads as unknown', async () => {
    const [a, b] = [await session(north), await session(north)];
    const t = await session(other);
    const [u, v] = [await session(other), await session(other)];
    const own = await edge(a, b);
    const across = await edge(a, t);
    const theirs = await edge(u, v);
    const listed = async (p: Provisioned) => ids(await as(p, 'GET', '/v1/delegations?limit=500'));
    expect(await listed(north)).toEqual(expect.arrayContaining([own, across]));
    expect(await listed(north)).not.toContain(theirs);
    expect(await listed(other)).toEqual(expect.arrayContaining([across, theirs]));
    expect(await listed(other)).not.toContain(own);
    expect(await listed(third)).toEqual([]);
    expect(ids(await call('GET', `/v1/delegations?${z()}&limit=500`))).toEqual(expect.arrayContaining([own, across, theirs]));
    // Filtering by another application's session shows only the caller's edges touching it.
    expect(ids(await as(north, 'GET', `/v1/delegations?session_id=${t}`))).toEqual([across]);
    expect(ids(await as(third, 'GET', `/v1/delegations?session_id=${t}`))).toEqual([]);
    expect(await as(other, 'GET', `/v1/delegations/${across}`)).toMatchObject({ status: 200, body: { id: across, status: 'pending' } });
    for (const id of [theirs, UNKNOWN]) {
      expect(await as(north, 'GET', `/v1/delegations/${id}`)).toMatchObject(unknownEdge(id));
      expect(await as(north, 'GET', `/v1/delegations/${id}/traverse`)).toMatchObject(unknownEdge(id));
      for (const verb of ['accept', 'decline', 'revoke']) expect(await as(north, 'POST', `/v1/delegations/${id}/${verb}`)).toMatchObject(unknownEdge(id));
    }
    for (const verb of ['accept', 'decline', 'revoke']) expect(await as(third, 'POST', `/v1/delegations/${across}/${verb}`)).toMatchObject(unknownEdge(across));
    expect((await call('GET', `/v1/delegations/${theirs}?${z()}`)).body.status).toBe('active');
    expect((await call('GET', `/v1/delegations/${across}?${z()}`)).body.status).toBe('pending');
  });

  it("a mandate delegates only from its own sessions and below edges it sees; another's reads as unknown", async () => {
    const theirs = await session(other);
    const [u, v] = [await session(other), await session(other)];
    const hidden = await edge(u, v);
    const mine = await session(north);
    const body = (source: string, extra: Record<string, unknown> = {}) => ({ source_session_id: source, target_session_id: mine, scopes: ['items:read'], ttl_seconds: 60, ...extra });
    expect(await as(north, 'POST', '/v1/delegations', body(theirs))).toMatchObject(unknownSession(theirs));
    const source = await session(north);
    expect(await as(north, 'POST', '/v1/delegations', body(source, { parent_edge_id: hidden }))).toMatchObject(unknownEdge(hidden));
    // The target may be another application's session: that is how a delegation across applications starts.
    expect(await as(north, 'POST', '/v1/delegations', { ...body(source), target_session_id: theirs })).toMatchObject({ status: 201, body: { status: 'pending' } });
  });

  it("a traverse reduces edges neither of whose ends is the caller's to their place and status", async () => {
    const [a, b] = [await session(north), await session(north)];
    const [c, d] = [await session(other), await session(other)];
    const e1 = await edge(a, b, 300);
    const e2 = await edge(b, c, 200);
    expect((await as(other, 'POST', `/v1/delegations/${e2}/accept`)).body.status).toBe('active');
    const e3 = await edge(c, d, 100);
    const byNorth = await as(north, 'GET', `/v1/delegations/${e1}/traverse`);
    expect(byNorth.body.chain).toEqual([expect.objectContaining({ id: e1, scopes: ['items:read'] })]);
    expect(byNorth.body.subtree).toEqual([expect.objectContaining({ id: e2, target_session_id: c }), { id: e3, parent_edge_id: e2, hop_count: 3, status: 'active', redacted: true }]);
    const byOther = await as(other, 'GET', `/v1/delegations/${e3}/traverse`);
    expect(byOther.body.chain).toEqual([{ id: e1, parent_edge_id: null, hop_count: 1, status: 'active', redacted: true }, expect.objectContaining({ id: e2, source_session_id: b }), expect.objectContaining({ id: e3 })]);
    expect(await as(other, 'GET', `/v1/delegations/${e1}/traverse`)).toMatchObject(unknownEdge(e1));
    const byOperator = await call('GET', `/v1/delegations/${e1}/traverse?${z()}`);
    expect(byOperator.body.subtree.map((x: any) => [x.id, x.scopes, x.redacted])).toEqual([
      [e2, ['items:read'], undefined],
      [e3, ['items:read'], undefined],
    ]);
  });
});

describe('delegation list paging', () => {
  it('pages oldest first with next_cursor until the last page; the filters hold on every page', async () => {
    const a = await session(north);
    const edges = [await edge(a, await session(north)), await edge(a, await session(north)), await edge(a, await session(north))];
    const p1 = await call('GET', `/v1/delegations?${z()}&session_id=${a}&limit=2`);
    expect(ids(p1)).toEqual(edges.slice(0, 2));
    expect(p1.body.next_cursor).toEqual(expect.any(String));
    const p2 = await call('GET', `/v1/delegations?${z()}&session_id=${a}&limit=2&cursor=${p1.body.next_cursor}`);
    expect(p2.body).toEqual({ items: [expect.objectContaining({ id: edges[2] })], next_cursor: null });
    // A mandate pages the same way over what it sees.
    const m1 = await as(north, 'GET', `/v1/delegations?session_id=${a}&limit=1`);
    const m2 = await as(north, 'GET', `/v1/delegations?session_id=${a}&limit=1&cursor=${m1.body.next_cursor}`);
    expect([...ids(m1), ...ids(m2)]).toEqual(edges.slice(0, 2));
  });

  it('bad limits and forged cursors are 400 naming the parameter', async () => {
    for (const limit of ['0', '501', '-1', 'ten', '1.5', '']) {
      expect(await call('GET', `/v1/delegations?${z()}&limit=${limit}`)).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'limit: must be an integer from 1 to 500' } });
    }
    expect((await call('GET', `/v1/delegations?${z()}&limit=500`)).status).toBe(200);
    const [u, v] = [await session(other), await session(other)];
    const theirs = await edge(u, v);
    const mine = await edge(await session(north), await session(north));
    for (const cursor of ['abc', cursorOf(UNKNOWN), cursorOf(u), cursorOf(theirs), `${cursorOf(mine)}=`]) {
      expect(await as(north, 'GET', `/v1/delegations?cursor=${cursor}`)).toMatchObject(FORGED);
    }
    expect(await call('GET', `/v1/delegations?${z()}&cursor=${cursorOf(u)}`)).toMatchObject(FORGED);
    expect((await as(north, 'GET', `/v1/delegations?cursor=${cursorOf(mine)}`)).status).toBe(200);
    expect((await call('GET', `/v1/delegations?${z()}&cursor=${'x'.repeat(201)}`)).status).toBe(400);
  });
});

describe('decline', () => {
  const decline = (p: Provisioned | null, id: string, headers: Record<string, string> = {}) =>
    p ? as(p, 'POST', `/v1/delegations/${id}/decline`, undefined, headers) : call('POST', `/v1/delegations/${id}/decline?${z()}`, undefined, headers);

  it('the receiving application declines a pending edge for good; the source cannot; audited; Idempotency-Key replays', async () => {
    const [a, t] = [await session(north), await session(other)];
    const e = await edge(a, t);
    expect(await decline(north, e)).toMatchObject({
      status: 403,
      body: { error: 'application_mismatch', error_description: "a session mandate declines only delegations made to its own application's sessions" },
    });
    const key = `decline-${randomBytes(8).toString('hex')}`;
    const [r1, r2] = await Promise.all([decline(other, e, { 'idempotency-key': key }), decline(other, e, { 'idempotency-key': key })]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(r2.body).toEqual(r1.body);
    expect(r1.body).toMatchObject({ id: e, status: 'declined', accepted_at: null });
    expect(r1.body.declined_at).toEqual(expect.any(String));
    expect(r1.body.revoked_at).toEqual(expect.any(String));
    const replay = await decline(other, e, { 'idempotency-key': key });
    expect(replay).toMatchObject({ status: 200, body: r1.body });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    // For good: declining again, accepting or revoking it is refused naming its state.
    expect(await decline(other, e)).toMatchObject({ status: 409, body: { error: 'delegation_declined', error_description: `delegation '${e}' is declined; only a pending delegation can be declined` } });
    expect(await as(other, 'POST', `/v1/delegations/${e}/accept`)).toMatchObject({ status: 409, body: { error: 'delegation_declined', error_description: `delegation '${e}' is declined; only a pending delegation can be accepted` } });
    expect(await call('POST', `/v1/delegations/${e}/revoke?${z()}`)).toMatchObject({ status: 409, body: { error: 'delegation_declined', error_description: `delegation '${e}' is already declined` } });
    expect((await as(north, 'GET', `/v1/delegations/${e}`)).body.status).toBe('declined');
    // The target never holds it: what it delegates is a root edge of its own application's grants, not below this one.
    const further = await as(other, 'POST', '/v1/delegations', { source_session_id: t, target_session_id: await session(other), scopes: ['items:read'], ttl_seconds: 60 });
    expect(further).toMatchObject({ status: 201, body: { hop_count: 1, parent_edge_id: null } });
    const events = (await s.auditEvents()).filter((x) => x.type === 'delegation.declined' && x.data?.delegation_id === e);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ zone_id: north.zoneId, decision: 'allow', client_id: other.clientId, application_id: other.applicationId, data: { source_session_id: a, target_session_id: t } });
    expect((await adminQuery(s.db.adminUrl, "SELECT 1 FROM caracal.admin_audit_events WHERE target = $1 AND action = 'delegation.decline'", [`delegation:${e}`])).rows).toHaveLength(0);
  });

  it('the operator may decline (an admin-audit row first); an accepted, same-application or revoked edge is 409 naming its state', async () => {
    const a = await session(north);
    const e = await edge(a, await session(other));
    expect((await decline(null, e)).body.status).toBe('declined');
    expect((await adminQuery(s.db.adminUrl, "SELECT actor FROM caracal.admin_audit_events WHERE target = $1 AND action = 'delegation.decline'", [`delegation:${e}`])).rows).toEqual([{ actor: 'coordinator:operator' }]);
    const accepted = await edge(a, await session(other));
    expect((await as(other, 'POST', `/v1/delegations/${accepted}/accept`)).status).toBe(200);
    expect(await decline(other, accepted)).toMatchObject({ status: 409, body: { error: 'delegation_already_accepted', error_description: `delegation '${accepted}' is active; only a pending delegation can be declined` } });
    const same = await edge(a, await session(north));
    expect(await decline(north, same)).toMatchObject({ status: 409, body: { error: 'delegation_already_accepted' } });
    const revoked = await edge(a, await session(other));
    expect((await call('POST', `/v1/delegations/${revoked}/revoke?${z()}`)).status).toBe(200);
    expect(await decline(other, revoked)).toMatchObject({ status: 409, body: { error: 'delegation_revoked', error_description: `delegation '${revoked}' is revoked; only a pending delegation can be declined` } });
  });

  it('bad input: a body, a malformed id, a malformed Idempotency-Key, an unknown edge, an edge of another zone', async () => {
    const e = await edge(await session(north), await session(other));
    expect(await call('POST', `/v1/delegations/${e}/decline?${z()}`, { reason: 'no' })).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: "unknown field 'reason' in body" } });
    expect((await call('POST', `/v1/delegations/nope/decline?${z()}`)).status).toBe(400);
    expect(await decline(other, e, { 'idempotency-key': 'has space' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await decline(null, UNKNOWN)).toMatchObject(unknownEdge(UNKNOWN));
    // An edge of another zone: unknown here, to the operator naming this zone and to this zone's mandates alike.
    const south = await s.provision(`south-${randomUUID().slice(0, 8)}`);
    const inSouth = async () => (await call('POST', `/v1/agents?zone_id=${south.zoneId}`, { application_id: south.applicationId, ttl_seconds: 600 })).body.id as string;
    const far = await call('POST', `/v1/delegations?zone_id=${south.zoneId}`, { source_session_id: await inSouth(), target_session_id: await inSouth(), scopes: ['items:read'], ttl_seconds: 300 });
    expect(far.status, JSON.stringify(far.body)).toBe(201);
    expect(await decline(null, far.body.id)).toMatchObject(unknownEdge(far.body.id));
    expect(await as(other, 'POST', `/v1/delegations/${far.body.id}/decline`)).toMatchObject(unknownEdge(far.body.id));
    expect(await as(north, 'GET', `/v1/delegations/${far.body.id}`)).toMatchObject(unknownEdge(far.body.id));
    expect((await call('GET', `/v1/delegations/${far.body.id}?zone_id=${south.zoneId}`)).body.status).toBe('active');
    expect((await call('GET', `/v1/delegations/${e}?${z()}`)).body.status).toBe('pending');
  });
});
