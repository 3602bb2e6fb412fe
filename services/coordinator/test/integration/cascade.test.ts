// Cascade revocation of delegated mandates (R-CO-1, R-GW-1) on real Postgres, Redis and HTTP: revoking an edge or
// ending a session at the coordinator writes one revocation record for the root of the cut and announces it, and the
// gateway then denies every mandate already minted below it. The nested RFC 8693 `act` is informational only:
// forging it changes nothing. How mandates are minted over the graph is in delegated-mint.test.ts.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publishSigned, STREAMS, StreamKeys } from '../../../../packages/streams/dist/index.js';
import type { Provisioned } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { decodePayload, signWith, zoneKey } from '../../../../test-support/forge.js';
import {
  announced, atGateway, call, chain, delegate, eventually, exchange, mandateAs, OWN_DENIAL, p, redis, refusedAsRevoked, revocationRows, revokeEdge, s, session, sessionVerb, useDelegationStack, zq,
} from './delegation-stack.js';

useDelegationStack('cascade');

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
