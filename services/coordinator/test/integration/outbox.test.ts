// The coordinator's stream messages go through the outbox (R-STR-5): each lifecycle change of an agent session
// (started, suspended, resumed, ended, expired) on `caracal.agents.lifecycle` and each delegation change (created,
// accepted, revoked) on `caracal.delegations.invalidate` is queued in the change's own transaction and published
// exactly once by the coordinators' relays, with its event id; a refused change or an idempotent replay queues nothing.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../packages/logging/dist/index.js';
import { STREAMS } from '../../../../packages/streams/dist/index.js';
import { startAuthorityStack, stopService, type AuthorityStack, type Provisioned, type Running } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { eventually, signedMessages, streamMetric } from '../../../../test-support/streams.js';
import type { CoordinatorConfig } from '../../src/config.js';
import { sweepExpired } from '../../src/sessions/sweeper.js';
import { coordinatorClient, coordinatorEnv, startTwoCoordinators } from './client.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const token = randomBytes(32).toString('hex');
let s: AuthorityStack;
let north: Provisioned;
let other: Provisioned; // a second application of the north zone
let config: CoordinatorConfig;
let c1: Running;
let c2: Running;
let redis: Redis;

beforeAll(async () => {
  s = await startAuthorityStack('coordobx', {}, { apiEnv: { API_RATE_PER_MIN: '10000' } });
  north = await s.provision('north');
  const app = await s.admin('POST', '/v1/zones/north/applications', { name: 'reviewer' });
  other = { ...north, clientId: app.body.client_id, clientSecret: app.body.client_secret, applicationId: app.body.id };
  ({ config, c1, c2 } = await startTwoCoordinators(await coordinatorEnv(s, token, { OUTBOX_POLL_INTERVAL_MS: '200' })));
  redis = new Redis(s.env.REDIS_URL);
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  for (const c of [c1, c2]) if (c) await stopService(c).catch(() => undefined);
  await s?.stop();
});

const call = coordinatorClient(token, () => c1.url);
const lifecycle = () => signedMessages(redis, s.prefix, STREAMS.agentsLifecycle, s.env.STREAMS_HMAC_KEY);
const delegations = () => signedMessages(redis, s.prefix, STREAMS.delegationsInvalidate, s.env.STREAMS_HMAC_KEY);
const outboxCount = async () => Number((await adminQuery<{ n: string }>(s.db.adminUrl, 'SELECT count(*) AS n FROM caracal.outbox')).rows[0]!.n);
const start = async (p: Provisioned = north, extra: Record<string, unknown> = {}, base?: string): Promise<string> => {
  const r = await call('POST', `/v1/agents?zone_id=${north.zoneId}`, { application_id: p.applicationId, ttl_seconds: 600, ...extra }, {}, base);
  expect(r.status).toBe(201);
  return r.body.id;
};

/** The messages about one object, once every expected one is there (published by either coordinator's relay). */
async function about(read: () => Promise<Array<Record<string, string>>>, key: string, id: string, events: string[]) {
  const got = await eventually(`${events.join(', ')} of ${id}`, async () => {
    const mine = (await read()).filter((m) => m[key] === id);
    return events.every((e) => mine.some((m) => m.event === e)) && mine;
  });
  for (const m of got) expect(m).toMatchObject({ zone_id: north.zoneId, event_id: expect.stringMatching(UUID) });
  return got;
}

describe('agent session lifecycle messages', () => {
  it('started, suspended, resumed and ended (with the subtree) are each published once, in order', async () => {
    const parent = await start();
    const child = await start(north, { parent_id: parent }, c2.url);
    for (const verb of ['suspend', 'resume', 'end']) expect((await call('POST', `/v1/agents/${parent}/${verb}?zone_id=${north.zoneId}`)).status).toBe(200);
    const mine = await about(lifecycle, 'agent_session_id', parent, ['started', 'suspended', 'resumed', 'ended']);
    expect(mine.map((m) => m.event)).toEqual(['started', 'suspended', 'resumed', 'ended']);
    expect(mine[0]).toMatchObject({ application_id: north.applicationId, depth: '0' });
    expect(mine[3]).toMatchObject({ status: 'ended', descendants_ended: '1' });
    const childEvents = await about(lifecycle, 'agent_session_id', child, ['started', 'ended']);
    expect(childEvents.map((m) => [m.event, m.ended_with ?? m.parent_id])).toEqual([
      ['started', parent],
      ['ended', parent],
    ]);
    expect(new Set([...mine, ...childEvents].map((m) => m.event_id)).size).toBe(6);
  });

  it('a refused change and an idempotent replay queue nothing', async () => {
    const id = await start();
    await about(lifecycle, 'agent_session_id', id, ['started']);
    const before = await outboxCount();
    // Resuming an active session is refused.
    expect((await call('POST', `/v1/agents/${id}/resume?zone_id=${north.zoneId}`)).status).toBe(409);
    const key = { 'idempotency-key': randomBytes(8).toString('hex') };
    expect((await call('POST', `/v1/agents/${id}/suspend?zone_id=${north.zoneId}`, undefined, key)).status).toBe(200);
    expect((await call('POST', `/v1/agents/${id}/suspend?zone_id=${north.zoneId}`, undefined, key, c2.url)).headers.get('idempotent-replayed')).toBe('true');
    expect(await outboxCount()).toBe(before + 1);
    await about(lifecycle, 'agent_session_id', id, ['suspended']);
    expect((await lifecycle()).filter((m) => m.agent_session_id === id).map((m) => m.event)).toEqual(['started', 'suspended']);
  });

  it('the sweeper announces each expiry with it', async () => {
    const id = await start(north, { ttl_seconds: 1 });
    await eventually('past its expiry', async () => (await adminQuery(s.db.adminUrl, 'SELECT 1 FROM caracal.agent_sessions WHERE id = $1 AND expires_at <= now()', [id])).rowCount === 1);
    const ctx = { config, deps: c1.deps, logger: createLogger({ service: 'coordinator', level: 'silent' }), outbox: { flush: async () => undefined }, emit: async (e: any) => ({ ...e, id: '', source: '', occurred_at: '' }) };
    expect(await sweepExpired(ctx)).toContain(id);
    const [expired] = (await about(lifecycle, 'agent_session_id', id, ['expired'])).filter((m) => m.event === 'expired');
    expect(expired).toMatchObject({ status: 'expired' });
  });
});

describe('delegation messages', () => {
  it('created, accepted and revoked (with the edge below) are each published once', async () => {
    const [a, b, c] = [await start(), await start(other), await start(other)];
    const edge = await call('POST', `/v1/delegations?zone_id=${north.zoneId}`, { source_session_id: a, target_session_id: b, scopes: ['items:read'], ttl_seconds: 300 });
    expect(edge.body.status).toBe('pending');
    expect((await call('POST', `/v1/delegations/${edge.body.id}/accept?zone_id=${north.zoneId}`)).status).toBe(200);
    const below = await call('POST', `/v1/delegations?zone_id=${north.zoneId}`, { source_session_id: b, target_session_id: c, scopes: ['items:read'], ttl_seconds: 200 });
    expect(below.status).toBe(201);
    expect((await call('POST', `/v1/delegations/${edge.body.id}/revoke?zone_id=${north.zoneId}`)).status).toBe(200);

    const top = await about(delegations, 'delegation_id', edge.body.id, ['created', 'accepted', 'revoked']);
    expect(top.map((m) => m.event)).toEqual(['created', 'accepted', 'revoked']);
    expect(top[0]).toMatchObject({ source_session_id: a, target_session_id: b, scopes: 'items:read', hop_count: '1', status: 'pending' });
    const child = await about(delegations, 'delegation_id', below.body.id, ['created', 'revoked']);
    expect(child.map((m) => [m.event, m.revoked_with])).toEqual([
      ['created', undefined],
      ['revoked', edge.body.id],
    ]);
  });

  it('each outbox row is published exactly once, by one relay, and /metrics counts it there', async () => {
    // Any relay publishes any zone's rows: the api's as well as both coordinators'. A relay marks and counts a row
    // once its batch has committed, a moment after the XADD a test may already have seen.
    const counted = async () => {
      const text = await Promise.all([c1, c2, s.api].map((c) => fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${s.env.METRICS_BEARER}` } }).then((r) => r.text())));
      return text.reduce((sum, t) => sum + (streamMetric(t, 'caracal_outbox_published_total', STREAMS.agentsLifecycle) ?? 0), 0);
    };
    const publishedRows = async () =>
      (await adminQuery<{ id: string }>(s.db.adminUrl, 'SELECT id FROM caracal.outbox WHERE stream = $1 AND published_at IS NOT NULL ORDER BY id', [STREAMS.agentsLifecycle])).rows.map((r) => r.id);
    const eventIds = (await lifecycle()).map((m) => m.event_id!);
    expect(eventIds.length).toBeGreaterThan(0);
    // No event on the stream twice, and they are exactly the rows marked published.
    expect(new Set(eventIds).size).toBe(eventIds.length);
    await eventually('every published row marked', async () => (await publishedRows()).length === eventIds.length);
    expect(await publishedRows()).toEqual([...eventIds].sort());
    await eventually('every message counted once', async () => (await counted()) === eventIds.length);
    expect(await counted()).toBe(eventIds.length);
  });
});
