// The ledger's read side through the api (R-AUD-3, R-AUD-4, R-API-1), against real Postgres, Redis and HTTP:
// search filters and keyset paging, zone confinement, exact 400 bodies for bad queries, verification of an intact
// and of a tampered chain, and the DLQ — listed without signatures, replayed onto the stream, audited (R-AUD-5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS, toFields } from '../../../../packages/streams/dist/index.js';
import { BASE_TIME, deadLetter, eventAt, signedMessage, startAuditApi, type AuditApi } from '../../../../test-support/audit-fixtures.js';

let s: AuditApi;
let north = '';
let south = '';
let quiet = '';
let northToken = '';
let readOnly = '';

const events = (zone: string, query = '', token?: string | null) => s.call('GET', `/v1/zones/${zone}/audit/events${query}`, { token });
const bad = (description: string) => ({ status: 400, body: { error: 'invalid_request', error_description: description } });
const iso = (minutes: number) => new Date(BASE_TIME + minutes * 60_000).toISOString();

beforeAll(async () => {
  s = await startAuditApi('auditapi');
  north = await s.zone('north');
  south = await s.zone('south');
  quiet = await s.zone('quiet');
  await s.seed(north, 10);
  await s.seed(south, 3);
  const zoneToken = await s.call('POST', '/v1/admin-tokens', { body: { name: 'north-reader', scope: 'zone', zone: 'north', capabilities: ['read', 'write'] } });
  northToken = zoneToken.body.token;
  readOnly = (await s.call('POST', '/v1/admin-tokens', { body: { name: 'reader', scope: 'global', capabilities: ['read'] } })).body.token;
});
afterAll(() => s?.stop());

describe('search', () => {
  it('returns every row of the zone in chain order, exactly as stored', async () => {
    const res = await events('north');
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.items.map((r: any) => r.chain_seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const db = await s.superuser('SELECT event_id, content_sha256, chain_hmac, prev_content_sha256 FROM caracal.audit_events WHERE zone_id = $1 ORDER BY chain_seq', [north]);
    expect(res.body.items.map((r: any) => ({ event_id: r.event_id, content_sha256: r.content_sha256, chain_hmac: r.chain_hmac, prev_content_sha256: r.prev_content_sha256 }))).toEqual(db);
    expect(res.body.items[0]).toMatchObject({ zone_id: north, occurred_at: iso(0), source: 'sts', event_type: 'token.issued', decision: 'allow', request_id: 'req-0' });
    expect(res.body.items[0].data).toMatchObject({ data: { n: 0 } });
  });

  it('resolves the zone by id as well as by slug, and never shows another zone', async () => {
    const byId = await events(south);
    expect(byId.body.items).toHaveLength(3);
    expect(byId.body.items.every((r: any) => r.zone_id === south)).toBe(true);
  });

  it.each([
    ['decision=deny', (r: any) => r.decision === 'deny', 5],
    ['decision=allow', (r: any) => r.decision === 'allow', 5],
    ['request_id=req-3', (r: any) => r.request_id === 'req-3', 1],
    ['type=token.denied', (r: any) => r.event_type === 'token.denied', 5],
    [`from=${iso(2)}&to=${iso(5)}`, (r: any) => r.occurred_at >= iso(2) && r.occurred_at < iso(5), 3],
    [`from=${iso(8)}`, (r: any) => r.occurred_at >= iso(8), 2],
    [`to=${iso(1)}`, (r: any) => r.occurred_at < iso(1), 1],
    [`decision=allow&from=${iso(2)}&to=${iso(7)}`, (r: any) => r.decision === 'allow', 3],
  ])('filters by %s', async (query, keep, count) => {
    const res = await events('north', `?${query}`);
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(count);
    expect(res.body.items.every(keep)).toBe(true);
  });

  it('a filter matching nothing is an empty page, not an error', async () => {
    expect((await events('north', '?request_id=nope')).body).toEqual({ items: [], next_cursor: null });
    expect((await events('quiet')).body).toEqual({ items: [], next_cursor: null });
  });
});

describe('paging', () => {
  async function walk(query: string): Promise<number[][]> {
    const pages: number[][] = [];
    let cursor: string | null = null;
    do {
      const res = await events('north', `?${query}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      pages.push(res.body.items.map((r: any) => r.chain_seq));
      cursor = res.body.next_cursor;
    } while (cursor);
    return pages;
  }

  it('the cursor walks every row exactly once, in order', async () => {
    expect(await walk('limit=3')).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
  });

  it('a page ending exactly at the last row says there is no next page', async () => {
    expect(await walk('limit=5')).toEqual([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]);
  });

  it('paging keeps the filter', async () => {
    expect(await walk('decision=deny&limit=2')).toEqual([[2, 4], [6, 8], [10]]);
  });

  it('rows appended after a page was read appear on later pages, never shifting earlier ones', async () => {
    const first = await events('south', '?limit=2');
    await s.seed(south, 2, (i) => eventAt(south, 100 + i));
    const rest = await events('south', `?limit=10&cursor=${first.body.next_cursor}`);
    expect([...first.body.items, ...rest.body.items].map((r: any) => r.chain_seq)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('bad queries', () => {
  const cursor = Buffer.from('e1.3.ffffffff-ffff-ffff-ffff-ffffffffffff').toString('base64url');
  it.each([
    ['?limit=0', 'limit must be an integer from 1 to 1000'],
    ['?limit=1001', 'limit must be an integer from 1 to 1000'],
    ['?limit=ten', 'limit must be an integer from 1 to 1000'],
    ['?limit=-1', 'limit must be an integer from 1 to 1000'],
    ['?limit=1&limit=2', 'querystring.limit must be string'],
    ['?from=yesterday', 'querystring.from must match format "date-time"'],
    ['?to=2025-13-01T00:00:00Z', 'querystring.to must match format "date-time"'],
    ['?from=2025-03-01T10:00:00', 'querystring.from must match format "date-time"'],
    [`?from=${iso(5)}&to=${iso(5)}`, 'from must be before to'],
    [`?from=${iso(6)}&to=${iso(5)}`, 'from must be before to'],
    ['?decision=maybe', 'querystring.decision must be equal to one of the allowed values'],
    ['?cursor=not-a-cursor', 'cursor is malformed; pass next_cursor from the previous page unchanged'],
    [`?cursor=${cursor}x`, 'cursor is malformed; pass next_cursor from the previous page unchanged'],
    [`?cursor=${Buffer.from('s1.1-0').toString('base64url')}`, 'cursor is malformed; pass next_cursor from the previous page unchanged'],
    ['?type=', 'querystring.type must NOT have fewer than 1 characters'],
    ['?zone=south', "unknown field 'zone' in querystring"],
    ['?offset=10', "unknown field 'offset' in querystring"],
  ])('%s → 400 naming the parameter', async (query, description) => {
    expect(await events('north', query)).toEqual(bad(description));
  });

  it('a well-formed cursor is accepted', async () => {
    expect((await events('north', `?cursor=${cursor}`)).body.items[0].chain_seq).toBe(4);
  });
});

describe('who may read', () => {
  it('no token → 401', async () => {
    expect(await events('north', '', null)).toEqual({ status: 401, body: { error: 'invalid_token', error_description: 'an admin bearer token is required' } });
    expect((await s.call('POST', '/v1/zones/north/audit/verify', { token: null })).status).toBe(401);
    expect((await s.call('GET', '/v1/audit/dlq', { token: null })).status).toBe(401);
  });

  it('a zone token reads its own zone and nothing else', async () => {
    expect((await events('north', '', northToken)).body.items).toHaveLength(10);
    const confined = { status: 403, body: { error: 'forbidden', error_description: 'this admin token is confined to another zone' } };
    expect(await events('south', '', northToken)).toEqual(confined);
    expect(await events(south, '?limit=1', northToken)).toEqual(confined);
    expect(await s.call('POST', '/v1/zones/south/audit/verify', { token: northToken })).toEqual(confined);
    expect((await s.call('POST', '/v1/zones/north/audit/verify', { token: northToken })).body.ok).toBe(true);
  });

  it('a zone token cannot reach the DLQ, which spans every zone', async () => {
    const global = { status: 403, body: { error: 'forbidden', error_description: 'this operation needs a global admin token' } };
    expect(await s.call('GET', '/v1/audit/dlq', { token: northToken })).toEqual(global);
    expect(await s.call('POST', '/v1/audit/dlq/replay', { token: northToken, body: { all: true } })).toEqual(global);
  });

  it('an unknown zone is a 404', async () => {
    expect(await events('nowhere')).toEqual({ status: 404, body: { error: 'not_found', error_description: "zone 'nowhere' does not exist" } });
  });
});

describe('verify', () => {
  it('an intact chain is ok, with its head', async () => {
    const res = await s.call('POST', '/v1/zones/north/audit/verify');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ zone_id: north, ok: true, checked: 10, first_seq: 1, last_seq: 10, breaks: [], breaks_omitted: 0, warnings: [], anchor: null });
    expect(res.body.published_head).toMatchObject({ seq: 10 });
    expect(res.body.recorded_head).toMatchObject({ seq: 10, content_sha256: res.body.published_head.content_sha256 });
    expect(res.body.last_content_sha256).toBe(res.body.published_head.content_sha256);
  });

  it('an empty zone is ok with nothing checked', async () => {
    expect((await s.call('POST', `/v1/zones/${quiet}/audit/verify`)).body).toMatchObject({ ok: true, checked: 0, last_seq: null, breaks: [] });
  });

  it('a tampered chain is still a 200 whose report says not ok', async () => {
    const zone = await s.zone('tampered');
    await s.seed(zone, 4);
    await s.superuser("UPDATE caracal.audit_events SET reason = 'rewritten' WHERE zone_id = $1 AND chain_seq = 2", [zone]);
    const res = await s.call('POST', '/v1/zones/tampered/audit/verify');
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(false);
    expect(res.body.breaks).toEqual([{ zone_id: zone, seq: 2, kind: 'content_mismatch', detail: 'the row no longer hashes to its content_sha256' }]);
  });

  it('a body is refused', async () => {
    expect(await s.call('POST', '/v1/zones/north/audit/verify', { body: { deep: true } })).toEqual(bad("unknown field 'deep' in body"));
  });

  it('one verification per zone at a time: a second one while the first runs is a 429', async () => {
    const zone = await s.zone('big');
    for (let i = 0; i < 10; i++) await s.seed(zone, 2000, (k) => eventAt(zone, i * 2000 + k));
    const [a, b] = await Promise.all([s.call('POST', '/v1/zones/big/audit/verify'), s.call('POST', '/v1/zones/big/audit/verify')]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 429]);
    const refused = a.status === 429 ? a : b;
    expect(refused.body).toEqual({ error: 'too_many_requests', error_description: "zone 'big' is being verified already" });
    // Once it is done, the zone can be verified again.
    expect((await s.call('POST', '/v1/zones/big/audit/verify')).body).toMatchObject({ ok: true, checked: 20_000 });
  });
});

describe('DLQ', () => {
  const dlqKey = () => s.keys.key(STREAMS.auditDlq);
  const streamKey = () => s.keys.key(STREAMS.auditEvents);
  let valid: { data: string; sig: string };
  let event: Record<string, unknown>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    event = eventAt('00000000-0000-4000-8000-000000000001', 1);
    valid = signedMessage(s, event);
    ids.valid = await deadLetter(s, valid, 'unknown_zone', 'zone does not exist');
    ids.notJson = await deadLetter(s, signedMessage(s, '{not json'), 'invalid_json', 'data is not valid JSON');
    ids.noData = await deadLetter(s, { other: 'field' }, 'missing_data', 'the message has no data field');
  });

  it('lists entries oldest first with their reasons, never their signatures', async () => {
    const res = await s.call('GET', '/v1/audit/dlq');
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.items).toEqual([
      { id: ids.valid, reason: 'unknown_zone', detail: 'zone does not exist', source_id: '1-0', deliveries: 1, dead_lettered_at: expect.any(String), event_id: event.id, zone_id: event.zone_id, type: event.type, data_bytes: Buffer.byteLength(valid.data) },
      { id: ids.notJson, reason: 'invalid_json', detail: 'data is not valid JSON', source_id: '1-0', deliveries: 1, dead_lettered_at: expect.any(String), event_id: null, zone_id: null, type: null, data_bytes: 9 },
      { id: ids.noData, reason: 'missing_data', detail: 'the message has no data field', source_id: '1-0', deliveries: 1, dead_lettered_at: expect.any(String), event_id: null, zone_id: null, type: null, data_bytes: null },
    ]);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(valid.sig);
    expect(text).not.toContain('"sig"');
  });

  it('pages with a cursor', async () => {
    const first = await s.call('GET', '/v1/audit/dlq?limit=2');
    expect(first.body.items.map((i: any) => i.id)).toEqual([ids.valid, ids.notJson]);
    const second = await s.call('GET', `/v1/audit/dlq?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body).toMatchObject({ items: [{ id: ids.noData }], next_cursor: null });
  });

  it.each([
    ['?limit=501', 'limit must be an integer from 1 to 500'],
    ['?cursor=1-0', 'cursor is malformed; pass next_cursor from the previous page unchanged'],
    ['?reason=x', "unknown field 'reason' in querystring"],
  ])('%s → 400', async (query, description) => {
    expect(await s.call('GET', `/v1/audit/dlq${query}`)).toEqual(bad(description));
  });

  it.each([
    [{}, 'give exactly one of ids or all'],
    [{ ids: ['1-0'], all: true }, 'give exactly one of ids or all'],
    [{ all: false }, 'body.all must be equal to one of the allowed values'],
    [{ ids: [] }, 'body.ids must NOT have fewer than 1 items'],
    [{ ids: ['abc'] }, 'body.ids.0 must match pattern "^[0-9]{1,20}-[0-9]{1,20}$"'],
    [{ ids: ['1-0', '1-0'] }, 'body.ids must NOT have duplicate items (items ## 1 and 0 are identical)'],
    [{ all: true, force: true }, "unknown field 'force' in body"],
  ])('replay refuses %j', async (body, description) => {
    expect(await s.call('POST', '/v1/audit/dlq/replay', { body })).toEqual(bad(description));
  });

  it('replay needs the write capability', async () => {
    expect(await s.call('POST', '/v1/audit/dlq/replay', { token: readOnly, body: { all: true } })).toEqual({
      status: 403,
      body: { error: 'forbidden', error_description: "this admin token lacks the 'write' capability" },
    });
  });

  it('replays the original data and sig onto the audit stream, removes the entry, and skips what cannot go', async () => {
    const before = await s.redis.xlen(streamKey());
    const res = await s.call('POST', '/v1/audit/dlq/replay', { body: { ids: [ids.valid, ids.noData, '1-1'] } });
    expect(res).toEqual({ status: 200, body: { replayed: [ids.valid], skipped: [{ id: ids.noData, reason: 'missing_data' }, { id: '1-1', reason: 'not_found' }] } });
    const stream = await s.redis.xrange(streamKey(), '-', '+');
    expect(stream).toHaveLength(before + 1);
    expect(toFields(stream.at(-1)![1])).toEqual(valid);
    const left = (await s.redis.xrange(dlqKey(), '-', '+')).map(([id]) => id);
    expect(left).toEqual([ids.notJson, ids.noData]);
    const audit = await s.superuser("SELECT actor, action, zone_id, target, detail FROM caracal.admin_audit_events WHERE action = 'audit.dlq.replay'");
    expect(audit).toEqual([
      {
        actor: 'admin:bootstrap(bootstrap)',
        action: 'audit.dlq.replay',
        zone_id: null,
        target: `stream:${STREAMS.auditDlq}`,
        detail: { requested: 3, replayed_count: 1, replayed: [ids.valid], skipped: [{ id: ids.noData, reason: 'missing_data' }, { id: '1-1', reason: 'not_found' }] },
      },
    ]);
  });

  it('replaying the same id again finds nothing: an entry is moved once', async () => {
    expect((await s.call('POST', '/v1/audit/dlq/replay', { body: { ids: [ids.valid] } })).body).toEqual({ replayed: [], skipped: [{ id: ids.valid, reason: 'not_found' }] });
  });

  it('all replays every entry present when it starts and keeps what has no data', async () => {
    const more = await deadLetter(s, signedMessage(s, eventAt(north, 50)), 'max_deliveries_exceeded', '5 attempts failed');
    const res = await s.call('POST', '/v1/audit/dlq/replay', { body: { all: true } });
    expect(res.body).toEqual({ replayed: [ids.notJson, more], skipped: [{ id: ids.noData, reason: 'missing_data' }] });
    expect((await s.call('GET', '/v1/audit/dlq')).body.items.map((i: any) => i.id)).toEqual([ids.noData]);
  });
});

describe('without the audit key', () => {
  let bare: AuditApi;
  beforeAll(async () => {
    bare = await startAuditApi('auditbare', { CARACAL_MODE: 'dev', AUDIT_HMAC_KEY: undefined });
  });
  afterAll(() => bare?.stop());

  it('verification and replay are 503, never a partial answer', async () => {
    // Creating a zone through the api is itself audited, so this one is inserted directly.
    const zone = (await bare.superuser("INSERT INTO caracal.zones (slug, name) VALUES ('solo', 'solo') RETURNING id"))[0]!.id;
    expect(await bare.call('POST', `/v1/zones/${zone}/audit/verify`)).toEqual({
      status: 503,
      body: { error: 'temporarily_unavailable', error_description: 'AUDIT_HMAC_KEY is not configured: the ledger cannot be verified' },
    });
    expect(await bare.call('POST', '/v1/audit/dlq/replay', { body: { all: true } })).toEqual({
      status: 503,
      body: { error: 'temporarily_unavailable', error_description: 'AUDIT_HMAC_KEY is not configured: admin changes cannot be audited' },
    });
  });
});
