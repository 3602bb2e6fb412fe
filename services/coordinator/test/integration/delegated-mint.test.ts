// Delegated mandates minted over the coordinator's graph (R-CO-1, R-STS-2, R-STS-6) on real Postgres, Redis and HTTP:
// a mandate records its whole chain within its hop and size limits, the STS refuses with a named reason whatever
// above the mint is not live, and an STS that keeps a graph's shape still reads on every mint what can change.
// Revoking what a mandate was minted over is in cascade.test.ts.
import { describe, expect, it } from 'vitest';
import { ACCESS, EXCHANGE } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { decodePayload } from '../../../../test-support/forge.js';
import { atGateway, call, chain, delegate, exchange, p, revokeEdge, s, session, sessionVerb, useDelegationStack, zq } from './delegation-stack.js';

useDelegationStack('delegmint');

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
      // A direct exchange asks for no graph: its statement (migration 0025) does not touch the delegation tables.
      expect((await s.token({ grant_type: EXCHANGE, subject_token: await s.session(p), subject_token_type: ACCESS, resource: p.resource, scope: 'items:read' })).status).toBe(200);
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
