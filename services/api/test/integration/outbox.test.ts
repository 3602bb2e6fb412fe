// The api announces through the outbox (R-STR-5): a revocation, an application's disabling and a key rotation each
// commit their stream message with the change, and the api's relay publishes it at once, carrying the event id
// for consumers to deduplicate on; a refused change queues nothing. The relay's failures and dead events are counted on
// /metrics, and an old backlog makes the api unready with `outbox_backlog_stale` (R-OPS-1).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS } from '../../../../packages/streams/dist/index.js';
import { startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { decodePayload } from '../../../../test-support/forge.js';
import { eventually, signedMessages, streamMetric } from '../../../../test-support/streams.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BROKEN = 'caracal.test.broken';

let s: AuthorityStack;
let p: Provisioned;
let redis: Redis;

beforeAll(async () => {
  s = await startAuthorityStack('apiobx', {}, {
    apiEnv: { OUTBOX_MAX_ATTEMPTS: '3', OUTBOX_BACKOFF_BASE_MS: '10', OUTBOX_BACKOFF_MAX_MS: '20', OUTBOX_POLL_INTERVAL_MS: '100', OUTBOX_STALE_AFTER_MS: '1000' },
  });
  p = await s.provision('obx');
  redis = new Redis(s.env.REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await s?.stop();
});

const messages = (stream: string) => signedMessages(redis, s.prefix, stream, s.env.STREAMS_HMAC_KEY);
const outboxRow = async (id: string) =>
  (await adminQuery<{ stream: string; zone_id: string; published: boolean }>(s.db.adminUrl, 'SELECT stream, zone_id, published_at IS NOT NULL AS published FROM caracal.outbox WHERE id = $1', [id])).rows[0];
const outboxCount = async () => Number((await adminQuery<{ n: string }>(s.db.adminUrl, 'SELECT count(*) AS n FROM caracal.outbox')).rows[0]!.n);
const metrics = () => fetch(`${s.api.url}/metrics`, { headers: { authorization: `Bearer ${s.env.METRICS_BEARER}` } }).then((r) => r.text());

describe('api announcements through the outbox', () => {
  it('a revocation is published with its event id before the call returns, from an outbox row of its zone marked published', async () => {
    const sid = decodePayload(await s.session(p)).sid as string;
    const res = await s.admin('POST', `/v1/zones/${p.slug}/sessions/${sid}/revoke`, { reason: 'outbox test' });
    expect(res.status).toBe(200);
    // Published before the call returned, as a direct XADD was.
    const msg = (await messages(STREAMS.sessionsRevoke)).find((m) => m.target_id === sid)!;
    expect(msg).toMatchObject({ zone_id: p.zoneId, target_type: 'authority_session', target_id: sid, revoked_at: res.body.revoked_at, event_id: expect.stringMatching(UUID) });
    expect(await outboxRow(msg.event_id!)).toEqual({
      stream: STREAMS.sessionsRevoke,
      zone_id: p.zoneId,
      published: true,
    });
  });

  it('a refused revocation queues nothing', async () => {
    const before = await outboxCount();
    const res = await s.admin('POST', `/v1/zones/${p.slug}/revocations`, { target_type: 'authority_session', target_id: '00000000-0000-4000-8000-000000000001' });
    expect(res.status).toBe(404);
    expect(await outboxCount()).toBe(before);
  });

  it('disabling an application and rotating a zone key are announced the same way', async () => {
    const other = await s.admin('POST', `/v1/zones/${p.slug}/applications`, { name: 'to-disable' });
    expect((await s.admin('DELETE', `/v1/zones/${p.slug}/applications/${other.body.id}`)).status).toBe(200);
    const disabled = (await messages(STREAMS.sessionsRevoke)).find((m) => m.target_id === other.body.id);
    expect(disabled).toMatchObject({ zone_id: p.zoneId, target_type: 'application', event_id: expect.stringMatching(UUID) });

    const rotated = await s.admin('POST', `/v1/zones/${p.slug}/rotate-key`);
    expect(rotated.status).toBe(200);
    const invalidated = (await messages(STREAMS.keysInvalidate)).find((m) => m.kid === rotated.body.kid);
    expect(invalidated).toMatchObject({ zone_id: p.zoneId, action: 'rotated', event_id: expect.stringMatching(UUID) });
    expect(streamMetric(await metrics(), 'caracal_outbox_published_total', STREAMS.sessionsRevoke)).toBeGreaterThanOrEqual(2);
  });

  it('an event whose XADD keeps failing is retried, then dead, and both are counted on /metrics', async () => {
    // A key of the wrong type: every XADD to this stream fails (WRONGTYPE).
    await redis.set(`${s.prefix}${BROKEN}`, 'not a stream');
    const row = await adminQuery<{ id: string }>(s.db.adminUrl, `INSERT INTO caracal.outbox (zone_id, stream, payload) VALUES ($1, $2, '{"zone_id":"x"}') RETURNING id`, [p.zoneId, BROKEN]);
    const id = row.rows[0]!.id;
    const dead = await eventually('dead', async () => (await adminQuery<{ attempts: number; last_error: string }>(s.db.adminUrl, 'SELECT attempts, last_error FROM caracal.outbox WHERE id = $1 AND dead_at IS NOT NULL', [id])).rows[0]);
    expect(dead).toMatchObject({ attempts: 3, last_error: expect.stringContaining('WRONGTYPE') });
    const text = await metrics();
    expect(streamMetric(text, 'caracal_outbox_failed_attempts_total', BROKEN)).toBe(3);
    expect(streamMetric(text, 'caracal_outbox_dead_total', BROKEN)).toBe(1);
    expect(streamMetric(text, 'caracal_outbox_published_total', BROKEN)).toBeUndefined();
  });

  it('an unpublished event older than OUTBOX_STALE_AFTER_MS makes the api unready, and ready again once it is gone', async () => {
    expect((await fetch(`${s.api.url}/ready`)).status).toBe(200);
    // Waiting an hour for its next attempt, created an hour ago: backlog the relay cannot clear.
    const row = await adminQuery<{ id: string }>(
      s.db.adminUrl,
      `INSERT INTO caracal.outbox (zone_id, stream, payload, created_at, next_attempt_at) VALUES ($1, $2, '{}', now() - interval '1 hour', now() + interval '1 hour') RETURNING id`,
      [p.zoneId, STREAMS.agentsLifecycle],
    );
    const unready = await eventually('unready', async () => {
      const r = await fetch(`${s.api.url}/ready`);
      return r.status === 503 && ((await r.json()) as { reason: string });
    });
    expect(unready).toMatchObject({ ok: false, ready: false, reason: 'outbox_backlog_stale' });
    expect(Number((await metrics()).split('\n').find((l) => l.startsWith('caracal_outbox_backlog_oldest_age_seconds'))!.split(' ').at(-1))).toBeGreaterThan(3500);

    await adminQuery(s.db.adminUrl, 'DELETE FROM caracal.outbox WHERE id = $1', [row.rows[0]!.id]);
    await eventually('ready again', async () => (await fetch(`${s.api.url}/ready`)).status === 200);
  });
});
