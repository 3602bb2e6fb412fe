// The admin audit chain through the API (R-AUD-5): it verifies when intact, a tampered row is named by seq and
// kind, and search pages through it with an opaque cursor. Only global tokens may read it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorityStack, type AuthorityStack } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';

let s: AuthorityStack;

beforeAll(async () => {
  s = await startAuthorityStack('adminchain', {}, { apiEnv: { API_RATE_PER_MIN: '10000' } });
  await s.admin('POST', '/v1/zones', { slug: 'north', name: 'North' });
  for (const name of ['a1', 'a2', 'a3', 'a4']) await s.admin('POST', '/v1/zones/north/applications', { name, labels: ['team=x', 'env=prod'] });
  await s.admin('POST', '/v1/zones/north/resources', { identifier: 'resource://files', upstream_url: 'http://files.example', credential: 'k' });
});
afterAll(() => s.stop());

/** Changes a stored row behind the API's back, as someone with database access would. */
async function tamper(sql: string): Promise<void> {
  await adminQuery(s.db.adminUrl, `BEGIN; SET LOCAL session_replication_role = replica; ${sql}; COMMIT`);
}

describe('search', () => {
  it('pages through the whole chain in seq order with next_cursor', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await s.admin('GET', `/v1/audit/admin/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((r: { seq: number }) => r.seq));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(pages).toBe(3);
  });

  it('returns each row with its chain fields and filters by action and zone', async () => {
    const zone = (await s.admin('GET', '/v1/zones/north')).body.id;
    const res = await s.admin('GET', `/v1/audit/admin/events?action=resource.create&zone_id=${zone}`);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({ seq: 6, action: 'resource.create', zone_id: zone, actor: 'admin:bootstrap(bootstrap)', detail: { identifier: 'resource://files', has_credential: true } });
    expect(Object.keys(res.body.items[0]).sort()).toEqual(['action', 'actor', 'chain_hmac', 'content_sha256', 'detail', 'id', 'occurred_at', 'prev_content_sha256', 'request_id', 'seq', 'target', 'zone_id']);
  });

  it.each([
    ['cursor=abc', 'cursor is malformed; pass next_cursor from the previous page unchanged'],
    ['limit=0', 'limit must be an integer from 1 to 1000'],
    ['zone_id=north', 'querystring.zone_id must match format "uuid"'],
    ['color=red', "unknown field 'color' in querystring"],
  ])('?%s → 400', async (q, description) => {
    const res = await s.admin('GET', `/v1/audit/admin/events?${q}`);
    expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: description } });
  });

  it('zone-confined tokens may not read the installation-wide chain', async () => {
    const t = await s.admin('POST', '/v1/admin-tokens', { name: 'zr', scope: 'zone', zone: 'north', capabilities: ['read'] });
    for (const path of ['/v1/audit/admin/events', '/v1/audit/admin/verify']) {
      const res = await fetch(`${s.api.url}${path}`, { headers: { authorization: `Bearer ${t.body.token}` } });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: 'forbidden', error_description: 'this operation needs a global admin token' });
    }
  });
});

describe('verify', () => {
  it('an intact chain verifies', async () => {
    const res = await s.admin('GET', '/v1/audit/admin/verify');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, first_seq: 1, breaks: [], breaks_omitted: 0 });
    expect(res.body.checked).toBe(res.body.last_seq);
  });

  it('a row edited in the database is named by seq and kind', async () => {
    await tamper(`UPDATE caracal.admin_audit_events SET actor = 'admin:someone-else' WHERE seq = 3`);
    const res = await s.admin('GET', '/v1/audit/admin/verify');
    expect(res.body.ok).toBe(false);
    expect(res.body.breaks).toEqual([{ seq: 3, kind: 'content_mismatch', detail: 'the row does not hash to its content_sha256' }]);
  });

  it('a deleted row is a sequence gap and a chain break at the next row', async () => {
    await tamper(`DELETE FROM caracal.admin_audit_events WHERE seq = 5`);
    const res = await s.admin('GET', '/v1/audit/admin/verify');
    expect(res.body.breaks).toEqual([
      { seq: 3, kind: 'content_mismatch', detail: 'the row does not hash to its content_sha256' },
      { seq: 6, kind: 'sequence_gap', detail: 'expected seq 5, found 6' },
      { seq: 6, kind: 'chain_break', detail: 'prev_content_sha256 does not match row 4' },
    ]);
  });

  it('a jsonb detail changed apart from its hashed text, and a rewritten HMAC, are named', async () => {
    await tamper(`UPDATE caracal.admin_audit_events SET detail = '{"identifier":"resource://other"}' WHERE seq = 6`);
    await tamper(`UPDATE caracal.admin_audit_events SET chain_hmac = repeat('0', 64) WHERE seq = 2`);
    const res = await s.admin('GET', '/v1/audit/admin/verify');
    expect(res.body.breaks).toEqual(
      expect.arrayContaining([
        { seq: 2, kind: 'hmac_mismatch', detail: 'chain_hmac does not verify under the audit key' },
        { seq: 6, kind: 'detail_mismatch', detail: 'detail differs from the hashed detail_text' },
      ]),
    );
  });
});
