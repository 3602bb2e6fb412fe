// Delegated mandates end to end (R-CO-1, R-STS-2, R-STS-6, R-GW-1) on real Postgres, Redis and HTTP: the coordinator
// makes the graph, the STS mints over it, the gateway enforces. A mandate records its whole chain; the STS refuses
// with a named reason whatever above the mint is not live; revoking an edge or ending a session at the coordinator
// writes one revocation record for the root of the cut and announces it, and the gateway then denies every mandate
// already minted below it. The nested RFC 8693 `act` is informational only: forging it changes nothing.
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishSigned, STREAMS, StreamKeys } from '../../../../packages/streams/dist/index.js';
import { ACCESS, EXCHANGE, startAuthorityStack, stopService, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { decodePayload, signWith, zoneKey } from '../../../../test-support/forge.js';
import { coordinatorClient, coordinatorEnv, startTwoCoordinators } from './client.js';

const token = randomBytes(32).toString('hex');
let s: AuthorityStack;
let p: Provisioned;
let redis: Redis;
let coordinators: Awaited<ReturnType<typeof startTwoCoordinators>>;

beforeAll(async () => {
  s = await startAuthorityStack('cascade');
  p = await s.provision('cascade', {
    scopes: ['items:read', 'items:write'],
    operations: [
      { method: 'GET', path: '/*', scope: 'items:read' },
      { method: 'POST', path: '/*', scope: 'items:write' },
    ],
  });
  redis = new Redis(s.env.REDIS_URL);
  coordinators = await startTwoCoordinators(await coordinatorEnv(s, token));
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  for (const c of [coordinators?.c1, coordinators?.c2]) if (c) await stopService(c).catch(() => undefined);
  await s?.stop();
});

const call = coordinatorClient(token, () => coordinators.c1.url);
const zq = () => `zone_id=${p.zoneId}`;

async function session(extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call('POST', `/v1/agents?${zq()}`, { application_id: p.applicationId, ttl_seconds: 600, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
async function delegate(source: string, target: string, ttl = 300, scopes = ['items:read']): Promise<string> {
  const r = await call('POST', `/v1/delegations?${zq()}`, { source_session_id: source, target_session_id: target, scopes, ttl_seconds: ttl });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
/** Sessions s0…sn and edges s0→s1→…→sn, each hop shorter-lived than the one above. */
async function chain(hops: number): Promise<{ sessions: string[]; edges: string[] }> {
  const sessions = [await session()];
  const edges: string[] = [];
  for (let i = 0; i < hops; i++) {
    sessions.push(await session());
    edges.push(await delegate(sessions[i]!, sessions[i + 1]!, 300 - i, ['items:read', 'items:write']));
  }
  return { sessions, edges };
}
const revokeEdge = (id: string) => call('POST', `/v1/delegations/${id}/revoke?${zq()}`);
const sessionVerb = (id: string, verb: string) => call('POST', `/v1/agents/${id}/${verb}?${zq()}`);

/** A token exchange at the STS as agent session `agent`, over `edge` when given. */
async function exchange(agent: string, edge?: string, scope = 'items:read', subject?: string) {
  return s.token({
    grant_type: EXCHANGE,
    subject_token: subject ?? (await s.session(p)),
    subject_token_type: ACCESS,
    resource: p.resource,
    scope,
    agent_session_id: agent,
    ...(edge ? { delegation_edge_id: edge } : {}),
  });
}
async function mandateAs(agent: string, edge?: string, scope = 'items:read'): Promise<string> {
  const r = await exchange(agent, edge, scope);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.access_token;
}
async function atGateway(mandate: string): Promise<{ status: number; description: string | undefined }> {
  const r = await fetch(`${s.gateway.url}/${p.resource.slice('resource://'.length)}/items`, { headers: { authorization: `Bearer ${mandate}` } });
  return { status: r.status, description: ((await r.json()) as { error_description?: string }).error_description };
}
/** The gateway's own revocation cache answered (the STS behind it would say `denied: lineage_revoked`). */
const OWN_DENIAL = 'the mandate lineage is revoked';
const refusedAsRevoked = (r: { status: number; description: string | undefined }) => r.status === 401 && [OWN_DENIAL, 'denied: lineage_revoked'].includes(r.description ?? '');

async function eventually(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const revocationRows = async (ids: string[]) =>
  (await adminQuery<{ target_type: string; target_id: string; revoked_by: string }>(s.db.adminUrl, 'SELECT target_type, target_id, revoked_by FROM caracal.revocations WHERE target_id = ANY ($1::uuid[])', [ids])).rows;
const announced = async (ids: string[]) => {
  const entries = await redis.xrange(`${s.prefix}${STREAMS.sessionsRevoke}`, '-', '+');
  return entries.map(([, f]) => f[f.indexOf('target_id') + 1]!).filter((id) => ids.includes(id));
};

describe('the delegated mandate', () => {
  it('records the chain of edges, their source sessions, the hop count and an `act` nesting every actor (current outermost); 10 hops stay within 4 KiB', async () => {
    const { sessions, edges } = await chain(10);
    const r = await exchange(sessions[10]!, edges[9]!, 'items:read items:write');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(Buffer.byteLength(r.body.access_token)).toBeLessThanOrEqual(4096);
    const c = decodePayload(r.body.access_token);
    // RFC 8693 §4.1: the root source session is the subject; the minting session is the current actor, outermost,
    // and each earlier delegate is nested inside it.
    expect(c).toMatchObject({ sub: sessions[0], agent_session_id: sessions[10], delegation_edge_id: edges[9], delegation_chain: edges, agent_session_chain: sessions.slice(0, 10), hop_count: 10 });
    let act = c.act;
    for (let i = 10; i >= 1; i--) {
      expect(act.sub).toBe(sessions[i]);
      act = act.act;
    }
    expect(act).toBeUndefined();
    // Never beyond the shortest-lived edge of the chain.
    const edge = await call('GET', `/v1/delegations/${edges[9]}?${zq()}`);
    expect(c.exp).toBeLessThanOrEqual(Math.floor(new Date(edge.body.expires_at).getTime() / 1000));
    expect((await atGateway(r.body.access_token)).status).toBe(200);
  });

  it('an 11th hop is refused at the coordinator, and a chain longer than 10 hops in the store mints nothing (hop_limit_exceeded)', async () => {
    const { sessions, edges } = await chain(10);
    const beyond = await session();
    const refused = await call('POST', `/v1/delegations?${zq()}`, { source_session_id: sessions[10], target_session_id: beyond, scopes: ['items:read'], ttl_seconds: 60 });
    expect(refused).toMatchObject({ status: 409, body: { error: 'hop_limit_exceeded' } });
    // A row no coordinator writes (an 11-edge path), as a damaged or foreign store could hold it.
    const row = await adminQuery<{ id: string }>(
      s.db.adminUrl,
      `INSERT INTO caracal.delegation_edges (zone_id, source_session_id, target_session_id, parent_edge_id, scopes, path, hop_count, expires_at, accepted_at)
       VALUES ($1, $2, $3, $4, '{items:read}', $5, 10, now() + interval '60 seconds', now()) RETURNING id`,
      [p.zoneId, sessions[10], beyond, edges[9], edges],
    );
    const r = await exchange(beyond, row.rows[0]!.id);
    expect(r).toMatchObject({ status: 403, body: { error: 'access_denied', error_description: 'the delegation chain has 11 hops; the limit is 10 (hop_limit_exceeded)' } });
    const ev = (await s.auditEvents()).find((e) => e.request_id === r.headers.get('x-request-id'));
    expect(ev).toMatchObject({ type: 'mandate.denied', decision: 'deny', reason: 'hop_limit_exceeded' });
  });

  it('requested scopes beyond the edge are refused (delegation_scope_exceeded), an empty intersection included; never an unrestricted mandate', async () => {
    const [a, b] = [await session(), await session()];
    const e = await delegate(a, b, 300, ['items:read']);
    for (const scope of ['items:write', 'items:read items:write']) {
      const r = await exchange(b, e, scope);
      expect(r).toMatchObject({ status: 403, body: { error: 'access_denied', error_description: 'denied: delegation_scope_exceeded' } });
    }
    expect((await exchange(b, e, ' ')).status).toBe(400);
    const ok = await exchange(b, e, 'items:read');
    expect(decodePayload(ok.body.access_token).scope).toBe('items:read');
  });

  it('a mandate that would exceed 4 KiB is never issued (token_too_large)', async () => {
    const wide = Array.from({ length: 30 }, (_, i) => `wide:${String(i).padStart(2, '0')}:${'x'.repeat(110)}`);
    const q = await s.provision('wide', { scopes: wide });
    const r = await s.token({ grant_type: EXCHANGE, subject_token: await s.session(q), subject_token_type: ACCESS, resource: q.resource, scope: wide.join(' ') });
    expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: 'the mandate would be larger than 4 KiB; request fewer scopes' } });
    expect((await s.auditEvents()).find((x) => x.request_id === r.headers.get('x-request-id'))).toMatchObject({ type: 'mandate.denied', reason: 'token_too_large' });
    const fewer = await s.token({ grant_type: EXCHANGE, subject_token: await s.session(q), subject_token_type: ACCESS, resource: q.resource, scope: wide.slice(0, 5).join(' ') });
    expect(fewer.status).toBe(200);
  });
});

describe('named refusals from the server-side graph', () => {
  it('a suspended agent session, or one above it, refuses the mint (agent_session_suspended) until resumed', async () => {
    const [a, b, c] = [await session(), await session(), await session()];
    const e1 = await delegate(a, b);
    const e2 = await delegate(b, c, 200);
    expect((await sessionVerb(a, 'suspend')).status).toBe(200);
    const r = await exchange(c, e2);
    expect(r).toMatchObject({ status: 403, body: { error: 'access_denied', error_description: `agent session '${a}' is suspended (agent_session_suspended)` } });
    expect((await sessionVerb(a, 'resume')).status).toBe(200);
    expect((await exchange(c, e2)).status).toBe(200);
    expect((await sessionVerb(b, 'suspend')).status).toBe(200);
    expect((await exchange(b, e1)).body.error_description).toBe(`agent session '${b}' is suspended (agent_session_suspended)`);
    const ev = (await s.auditEvents()).find((x) => x.request_id === r.headers.get('x-request-id'));
    expect(ev).toMatchObject({ type: 'mandate.denied', reason: 'agent_session_suspended' });
  });

  it('an expired edge anywhere in the chain refuses the mint (delegation_expired)', async () => {
    const [a, b, c] = [await session(), await session(), await session()];
    const e1 = await delegate(a, b);
    const e2 = await delegate(b, c, 200);
    await adminQuery(s.db.adminUrl, "UPDATE caracal.delegation_edges SET expires_at = now() - interval '1 second' WHERE id = $1", [e1]);
    const r = await exchange(c, e2);
    expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: `delegation '${e1}' of the chain has expired (delegation_expired)` } });
    expect((await s.auditEvents()).find((x) => x.request_id === r.headers.get('x-request-id'))).toMatchObject({ reason: 'delegation_expired' });
  });

  it('an expired or ended agent session refuses the mint (agent_session_expired, agent_session_ended)', async () => {
    const [expired, ended] = [await session(), await session()];
    await adminQuery(s.db.adminUrl, "UPDATE caracal.agent_sessions SET expires_at = now() - interval '1 second' WHERE id = $1", [expired]);
    expect(await exchange(expired)).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: `agent session '${expired}' has expired (agent_session_expired)` } });
    expect((await sessionVerb(ended, 'end')).status).toBe(200);
    expect(await exchange(ended)).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: `agent session '${ended}' has ended (agent_session_ended)` } });
    // A child whose parent expired mints nothing either: the parent is above it in the graph.
    const parent = await session();
    const child = await session({ parent_id: parent });
    expect((await exchange(child)).status).toBe(200);
    await adminQuery(s.db.adminUrl, "UPDATE caracal.agent_sessions SET expires_at = now() - interval '1 second' WHERE id = $1", [parent]);
    expect((await exchange(child)).body.error_description).toBe(`agent session '${parent}' has expired (agent_session_expired)`);
  });
  it('a graph that cannot be read refuses the delegated mint with 503 (fail closed)', async () => {
    const [a, b] = [await session(), await session()];
    const e = await delegate(a, b);
    const role = new URL(s.db.roleUrl('sts')).username;
    await adminQuery(s.db.adminUrl, `REVOKE SELECT ON caracal.delegation_edges FROM "${role}"`);
    try {
      expect(await exchange(b, e)).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
      // A direct exchange reads its context through the same keyed statement (migration 0021): it fails closed too.
      expect((await s.token({ grant_type: EXCHANGE, subject_token: await s.session(p), subject_token_type: ACCESS, resource: p.resource, scope: 'items:read' })).status).toBe(503);
    } finally {
      await adminQuery(s.db.adminUrl, `GRANT SELECT ON caracal.delegation_edges TO "${role}"`);
    }
    expect((await exchange(b, e)).status).toBe(200);
    expect((await s.token({ grant_type: EXCHANGE, subject_token: await s.session(p), subject_token_type: ACCESS, resource: p.resource, scope: 'items:read' })).status).toBe(200);
  });
});

describe("an STS keeping a graph's shape", () => {
  /** How many delegated mints of the STS read a kept shape's state instead of the whole graph. */
  const shapeReads = async () => {
    const text = await fetch(`${s.sts.url}/metrics`, { headers: { authorization: `Bearer ${s.env.METRICS_BEARER}` } }).then((r) => r.text());
    return Number(/^caracal_sts_delegation_graph_reads_total\{[^}]*source="shape"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const expire = (table: string, id: string, when: string) => adminQuery(s.db.adminUrl, `UPDATE caracal.${table} SET expires_at = ${when} WHERE id = $1`, [id]);

  it('still reads on every mint what can change: suspension, expiry, revocation; every one of these mints read a kept shape', async () => {
    const [a, b, c] = [await session(), await session(), await session()];
    const e1 = await delegate(a, b);
    const e2 = await delegate(b, c, 200);
    expect((await exchange(c, e2)).status).toBe(200);
    const before = await shapeReads();
    expect((await exchange(c, e2)).status).toBe(200);

    expect((await sessionVerb(a, 'suspend')).status).toBe(200);
    expect((await exchange(c, e2)).body.error_description).toBe(`agent session '${a}' is suspended (agent_session_suspended)`);
    expect((await sessionVerb(a, 'resume')).status).toBe(200);

    const [{ rows: [edgeWas] }, { rows: [sessionWas] }] = await Promise.all([
      adminQuery<{ expires_at: Date }>(s.db.adminUrl, 'SELECT expires_at FROM caracal.delegation_edges WHERE id = $1', [e1]),
      adminQuery<{ expires_at: Date }>(s.db.adminUrl, 'SELECT expires_at FROM caracal.agent_sessions WHERE id = $1', [a]),
    ]);
    await expire('delegation_edges', e1, "now() - interval '1 second'");
    expect((await exchange(c, e2)).body.error_description).toBe(`delegation '${e1}' of the chain has expired (delegation_expired)`);
    await expire('delegation_edges', e1, `'${edgeWas!.expires_at.toISOString()}'`);
    await expire('agent_sessions', a, "now() - interval '1 second'");
    expect((await exchange(c, e2)).body.error_description).toBe(`agent session '${a}' has expired (agent_session_expired)`);
    await expire('agent_sessions', a, `'${sessionWas!.expires_at.toISOString()}'`);
    expect((await exchange(c, e2)).status).toBe(200);

    expect((await revokeEdge(e1)).status).toBe(200);
    expect((await exchange(c, e2)).body.error_description).toBe(`delegation '${e1}' of the chain is revoked (delegation_revoked)`);
    expect(await shapeReads()).toBe(before + 6);
  });

  it('reads the context with the state on every mint: a revocation record above, the subject revoked, the application disabled; a failed read refuses with 503', async () => {
    const [a, b, c] = [await session(), await session(), await session()];
    const e1 = await delegate(a, b);
    const e2 = await delegate(b, c, 200);
    const subject = await s.session(p);
    const mint = () => exchange(c, e2, 'items:read', subject);
    expect((await mint()).status).toBe(200);
    const before = await shapeReads();
    const lineageRevoked = "the subject token's lineage is not valid (lineage_revoked)";
    const recorded = async (type: string, id: string, expected: string) => {
      await adminQuery(s.db.adminUrl, "INSERT INTO caracal.revocations (zone_id, target_type, target_id, revoked_by) VALUES ($1, $2, $3, 'test')", [p.zoneId, type, id]);
      try {
        expect((await mint()).body.error_description).toBe(expected);
      } finally {
        await adminQuery(s.db.adminUrl, 'DELETE FROM caracal.revocations WHERE target_id = $1', [id]);
      }
      expect((await mint()).status).toBe(200);
    };
    // Records only, the rows they name untouched: each is read by key on every mint.
    await recorded('agent_session', a, `agent session '${a}' is revoked (lineage_revoked)`);
    await recorded('delegation_edge', e1, `delegation '${e1}' of the chain is revoked (delegation_revoked)`);
    await recorded('authority_session', decodePayload(subject).sid, lineageRevoked);
    await recorded('application', p.applicationId, lineageRevoked);

    await adminQuery(s.db.adminUrl, 'UPDATE caracal.applications SET disabled_at = now() WHERE id = $1', [p.applicationId]);
    try {
      expect((await mint()).body.error_description).toBe(lineageRevoked);
    } finally {
      await adminQuery(s.db.adminUrl, 'UPDATE caracal.applications SET disabled_at = NULL WHERE id = $1', [p.applicationId]);
    }
    expect(await shapeReads()).toBe(before + 9);

    const role = new URL(s.db.roleUrl('sts')).username;
    await adminQuery(s.db.adminUrl, `REVOKE SELECT ON caracal.agent_sessions FROM "${role}"`);
    try {
      expect(await mint()).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
    } finally {
      await adminQuery(s.db.adminUrl, `GRANT SELECT ON caracal.agent_sessions TO "${role}"`);
    }
    expect((await mint()).status).toBe(200);
  });

  it('an edge of a kept shape gone from the store: the whole graph is read again and the mint refused', async () => {
    const [a, b] = [await session(), await session()];
    const e = await delegate(a, b);
    expect((await exchange(b, e)).status).toBe(200);
    await adminQuery(s.db.adminUrl, 'DELETE FROM caracal.delegation_edges WHERE id = $1', [e]);
    expect(await exchange(b, e)).toMatchObject({ status: 403, body: { error_description: 'unknown delegation edge for this agent session' } });
  });
});

describe('cascade revocation', () => {
  it('revoking a parent edge: one record and one message for the subtree; every mandate already minted below is denied at the gateway, nothing below exchanges again', async () => {
    const [a, b, c, d, sibling] = [await session(), await session(), await session(), await session(), await session()];
    const e1 = await delegate(a, b);
    const e2 = await delegate(b, c, 200);
    const e3 = await delegate(c, d, 100);
    const e4 = await delegate(a, sibling);
    const [m1, m2, m4] = [await mandateAs(b, e1), await mandateAs(c, e2), await mandateAs(sibling, e4)];
    // Single-use at the gateway: one mandate per attempt, all minted before the revocation.
    const m3 = await Promise.all(Array.from({ length: 40 }, () => mandateAs(d, e3)));

    const r = await revokeEdge(e1);
    expect(r).toMatchObject({ status: 200, body: { id: e1, status: 'revoked', revoked: 3 } });
    expect(new Set(r.body.descendants_revoked)).toEqual(new Set([e2, e3]));
    expect(await revocationRows([e1, e2, e3, e4])).toEqual([{ target_type: 'delegation_edge', target_id: e1, revoked_by: 'coordinator:operator' }]);
    expect(await announced([e1, e2, e3, e4])).toEqual([e1]);

    // As soon as the revoke has answered, nothing below it passes (the gateway's cache, or the STS behind it).
    for (const m of [m1, m2, m3.pop()!]) expect(refusedAsRevoked(await atGateway(m))).toBe(true);
    // Within the revocation bound the gateway's own cache denies the deepest descendant from the one message.
    await eventually('the gateway denies from its cache', async () => (await atGateway(m3.pop()!)).description === OWN_DENIAL, 1500);
    expect((await atGateway(m4)).status).toBe(200);

    for (const [agent, edge] of [[b, e1], [c, e2], [d, e3]] as const) {
      const again = await exchange(agent, edge);
      expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect((await s.auditEvents()).find((x) => x.request_id === again.headers.get('x-request-id'))).toMatchObject({ reason: 'delegation_revoked' });
    }
    expect((await exchange(sibling, e4)).status).toBe(200);
  });

  it('a 1,000-edge subtree is cut by one record and one message', async () => {
    const [a, b] = [await session(), await session()];
    const root = await delegate(a, b);
    // 999 sessions, each holding an edge from b below the root edge, written straight into the store.
    const leaves = await adminQuery<{ id: string }>(
      s.db.adminUrl,
      `INSERT INTO caracal.agent_sessions (zone_id, application_id, ttl_seconds, expires_at)
       SELECT $1, $2, 600, now() + interval '600 seconds' FROM generate_series(1, 999) RETURNING id`,
      [p.zoneId, p.applicationId],
    );
    const edges = await adminQuery<{ id: string; target_session_id: string }>(
      s.db.adminUrl,
      `INSERT INTO caracal.delegation_edges (zone_id, source_session_id, target_session_id, parent_edge_id, scopes, path, hop_count, expires_at, accepted_at)
       SELECT $1, $2, t, $3, '{items:read}', ARRAY[$3::uuid], 2, now() + interval '200 seconds', now() FROM unnest($4::uuid[]) AS t RETURNING id, target_session_id`,
      [p.zoneId, b, root, leaves.rows.map((x) => x.id)],
    );
    const sample = edges.rows.filter((_, i) => i % 100 === 0);
    const minted = await Promise.all(sample.map((e) => mandateAs(e.target_session_id, e.id)));
    const pool = await Promise.all(Array.from({ length: 20 }, () => mandateAs(sample[0]!.target_session_id, sample[0]!.id)));

    const r = await revokeEdge(root);
    expect(r.body).toMatchObject({ revoked: 1000 });
    expect(await revocationRows([root, ...edges.rows.map((e) => e.id)])).toHaveLength(1);
    expect(await announced([root, ...edges.rows.map((e) => e.id)])).toEqual([root]);
    for (const m of minted) expect(refusedAsRevoked(await atGateway(m))).toBe(true);
    await eventually('the gateway denies from its cache', async () => (await atGateway(pool.pop()!)).description === OWN_DENIAL, 1500);
  });

  it('ending a session records it and its ended children; mandates acting for them or delegated from them are denied at any depth', async () => {
    const a = await session();
    const child = await session({ parent_id: a });
    const [b, c] = [await session(), await session()];
    const e1 = await delegate(a, b);
    const e2 = await delegate(b, c, 200);
    const mine = await mandateAs(child);
    const below = await mandateAs(c, e2);
    const r = await sessionVerb(a, 'end');
    expect(r.status).toBe(200);
    const rows = await revocationRows([a, child, b, c, e1, e2]);
    expect(new Set(rows.map((x) => `${x.target_type}:${x.target_id}`))).toEqual(new Set([`agent_session:${a}`, `agent_session:${child}`]));
    expect(new Set(await announced([a, child, b, c, e1, e2]))).toEqual(new Set([a, child]));
    expect(refusedAsRevoked(await atGateway(mine))).toBe(true);
    expect(refusedAsRevoked(await atGateway(below))).toBe(true);
    expect((await exchange(c, e2)).body.error_description).toBe(`delegation '${e1}' of the chain is revoked (delegation_revoked)`);
  });

  it('revoking an edge through the API cuts its subtree the same way: mandates below are denied, nothing below mints', async () => {
    const [a, b, c] = [await session(), await session(), await session()];
    const e1 = await delegate(a, b);
    const e2 = await delegate(b, c, 200);
    const below = await mandateAs(c, e2);
    const r = await s.admin('POST', `/v1/zones/${p.slug}/revocations`, { target_type: 'delegation_edge', target_id: e1, reason: 'test' });
    expect(r.status).toBe(200);
    expect(refusedAsRevoked(await atGateway(below))).toBe(true);
    expect((await exchange(c, e2)).body.error_description).toBe(`delegation '${e1}' of the chain is revoked (delegation_revoked)`);
    // The edges below are marked revoked in Postgres too, as a revoke at the coordinator marks them.
    expect(r.body.delegations_revoked).toEqual([e2]);
    expect((await call('GET', `/v1/delegations/${e2}?${zq()}`)).body.status).toBe('revoked');
  });

  it('revoking an agent session through the API ends its descendants and revokes their delegations; mandates of a child session are denied', async () => {
    const a = await session();
    const child = await session({ parent_id: a });
    const grandchild = await session({ parent_id: child });
    const [b, c] = [await session(), await session()];
    const e1 = await delegate(child, b);
    const e2 = await delegate(b, c, 200);
    const forChild = await mandateAs(grandchild);
    const below = await mandateAs(c, e2);
    const r = await s.admin('POST', `/v1/zones/${p.slug}/revocations`, { target_type: 'agent_session', target_id: a, reason: 'test' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(new Set(r.body.sessions_ended)).toEqual(new Set([child, grandchild]));
    expect(new Set(r.body.delegations_revoked)).toEqual(new Set([e1, e2]));
    const rows = await revocationRows([a, child, grandchild, b, c, e1, e2]);
    expect(new Set(rows.map((x) => `${x.target_type}:${x.target_id}`))).toEqual(new Set([a, child, grandchild].map((x) => `agent_session:${x}`)));
    expect(new Set(await announced([a, child, grandchild, b, c, e1, e2]))).toEqual(new Set([a, child, grandchild]));
    expect(refusedAsRevoked(await atGateway(forChild))).toBe(true);
    expect(refusedAsRevoked(await atGateway(below))).toBe(true);
    expect((await call('GET', `/v1/agents/${grandchild}?${zq()}`)).body.status).toBe('ended');
    expect((await exchange(grandchild)).status).toBe(400);
    // Again: idempotent, nothing more to cut.
    const again = await s.admin('POST', `/v1/zones/${p.slug}/revocations`, { target_type: 'agent_session', target_id: a, reason: 'test' });
    expect(again.body).toMatchObject({ created: false, sessions_ended: [], delegations_revoked: [] });
  });

  it("disabling an application revokes its agent sessions and what it delegated: another application's mandates over its edges die, nothing mints again", async () => {
    const app = await s.admin('POST', `/v1/zones/${p.slug}/applications`, { name: `lender-${randomUUID().slice(0, 8)}` });
    expect(app.status).toBe(201);
    const lender: Provisioned = { ...p, clientId: app.body.client_id, clientSecret: app.body.client_secret, applicationId: app.body.id };
    await s.admin('POST', `/v1/zones/${p.slug}/grants`, { application: lender.clientId, resource: p.resource, scopes: ['items:read'] });
    const started = await call('POST', `/v1/agents?${zq()}`, { application_id: lender.applicationId, ttl_seconds: 600 });
    const own = started.body.id as string;
    const child = (await call('POST', `/v1/agents?${zq()}`, { application_id: lender.applicationId, ttl_seconds: 600, parent_id: own })).body.id as string;
    const mine = await session();
    const edge = await call('POST', `/v1/delegations?${zq()}`, { source_session_id: own, target_session_id: mine, scopes: ['items:read'], ttl_seconds: 300 });
    expect((await call('POST', `/v1/delegations/${edge.body.id}/accept?${zq()}`)).status).toBe(200);
    const [before, below] = [await mandateAs(mine, edge.body.id), await mandateAs(mine, edge.body.id)];
    expect((await atGateway(before)).status).toBe(200);
    expect((await s.admin('DELETE', `/v1/zones/${p.slug}/applications/${lender.clientId}`)).status).toBe(200);
    const after = await atGateway(below);
    expect(refusedAsRevoked(after), JSON.stringify(after)).toBe(true);
    expect((await exchange(mine, edge.body.id)).status).toBe(400);
    expect((await call('GET', `/v1/delegations/${edge.body.id}?${zq()}`)).body.status).toBe('revoked');
    expect((await call('GET', `/v1/agents/${own}?${zq()}`)).body.status).toBe('revoked');
    // Every live session of the application is revoked, its child included.
    expect((await call('GET', `/v1/agents/${child}?${zq()}`)).body.status).toBe('revoked');
    expect(new Set(await announced([own, child]))).toEqual(new Set([own, child]));
  });

  it('a suspended parent of a session that delegated refuses mints over its edges, and caps their lifetime', async () => {
    const parent = await session();
    const source = await session({ parent_id: parent });
    const target = await session();
    const e = await delegate(source, target);
    expect((await exchange(target, e)).status).toBe(200);
    expect((await sessionVerb(parent, 'suspend')).status).toBe(200);
    const r = await exchange(target, e);
    expect(r.status).toBe(403);
    expect(r.body.error_description).toBe(`agent session '${parent}' is suspended (agent_session_suspended)`);
    expect((await sessionVerb(parent, 'resume')).status).toBe(200);
  });

  it('a child session never outlives its parent; a mandate over an edge from it ends with the parent', async () => {
    const parent = await session({ ttl_seconds: 120 });
    const child = await call('POST', `/v1/agents?${zq()}`, { application_id: p.applicationId, ttl_seconds: 3600, parent_id: parent });
    expect(child.status).toBe(201);
    const parentRow = await call('GET', `/v1/agents/${parent}?${zq()}`);
    expect(Date.parse(child.body.expires_at)).toBeLessThanOrEqual(Date.parse(parentRow.body.expires_at));
    const target = await session();
    const e = await delegate(child.body.id, target, 60);
    const m = decodePayload(await mandateAs(target, e));
    expect(m.exp).toBeLessThanOrEqual(Math.floor(Date.parse(parentRow.body.expires_at) / 1000));
  });

  it('the gateway alone denies a whole subtree from one id on the stream: an edge of the chain, or the source session of one', async () => {
    const { sessions, edges } = await chain(4);
    const pool = await Promise.all(Array.from({ length: 30 }, () => mandateAs(sessions[4]!, edges[3]!)));
    const other = await chain(3);
    const otherPool = await Promise.all(Array.from({ length: 30 }, () => mandateAs(other.sessions[3]!, other.edges[2]!)));
    const keys = new StreamKeys(s.prefix);
    // Published by hand, Postgres untouched: the STS behind the gateway would still allow these.
    await publishSigned(redis, keys, STREAMS.sessionsRevoke, { zone_id: p.zoneId, target_type: 'delegation_edge', target_id: edges[0]! }, s.env.STREAMS_HMAC_KEY);
    await publishSigned(redis, keys, STREAMS.sessionsRevoke, { zone_id: p.zoneId, target_type: 'agent_session', target_id: other.sessions[1]! }, s.env.STREAMS_HMAC_KEY);
    await eventually('an ancestor edge denies', async () => (await atGateway(pool.pop()!)).description === OWN_DENIAL, 1500);
    await eventually('an ancestor source session denies', async () => (await atGateway(otherPool.pop()!)).description === OWN_DENIAL, 1500);
  });

  it('a revoke racing a mint: the mint either fails or its mandate is denied at the gateway', async () => {
    const outcomes = new Set<string>();
    for (let round = 0; round < 8; round++) {
      const [a, b, c] = [await session(), await session(), await session()];
      const e1 = await delegate(a, b);
      const e2 = await delegate(b, c, 200);
      const subject = await s.session(p);
      const [minted, revoked] = await Promise.all([exchange(c, e2, 'items:read', subject), revokeEdge(e1)]);
      expect(revoked.status).toBe(200);
      if (minted.status === 200) {
        outcomes.add('minted');
        expect(refusedAsRevoked(await atGateway(minted.body.access_token))).toBe(true);
      } else {
        outcomes.add('refused');
        expect(minted).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: `delegation '${e1}' of the chain is revoked (delegation_revoked)` } });
      }
    }
    expect(outcomes.size).toBeGreaterThan(0);
  });
});

describe('a forged nested `act` changes nothing (RFC 8693 §4.1)', () => {
  it('the gateway and the STS decide on the top-level claims and the stored graph alone', async () => {
    const key = await zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, p.zoneId);
    const [a, b, c] = [await session(), await session(), await session()];
    const e1 = await delegate(a, b);
    const e2 = await delegate(b, c, 200);
    const dead = await session();
    expect((await sessionVerb(dead, 'end')).status).toBe(200);
    const real = decodePayload(await mandateAs(c, e2));
    const forge = (act: unknown) => signWith(key.privateKey, key.kid, { ...real, jti: randomUUID(), act });

    // Actors that are revoked, unknown or absurdly deep in `act`: the mandate passes as the real one does.
    const deep = Array.from({ length: 30 }, () => randomUUID()).reduce<Record<string, unknown>>((inner, sub) => ({ sub, act: inner }), { sub: dead });
    for (const act of [{ sub: b, act: { sub: dead } }, deep, { sub: 'not-a-session' }]) expect((await atGateway(await forge(act))).status).toBe(200);

    // A forged session mandate carrying `act` mints exactly what the graph says.
    const own = decodePayload(await s.session(p));
    const subject = await signWith(key.privateKey, key.kid, { ...own, jti: randomUUID(), act: { sub: dead, act: { sub: randomUUID() } } });
    const minted = await exchange(c, e2, 'items:read', subject);
    expect(minted.status, JSON.stringify(minted.body)).toBe(200);
    expect(decodePayload(minted.body.access_token)).toMatchObject({ sub: a, act: { sub: c, act: { sub: b } } });

    // Once the chain is revoked, an `act` naming only live actors does not save the mandate.
    expect((await revokeEdge(e1)).status).toBe(200);
    expect(refusedAsRevoked(await atGateway(await forge({ sub: c })))).toBe(true);
    expect(refusedAsRevoked(await atGateway(await forge(undefined)))).toBe(true);
  });
});
