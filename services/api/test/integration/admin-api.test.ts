// The admin API against real Postgres and Redis (R-API-1, R-AUD-5): schemas reject unknown fields, tokens and
// capabilities are enforced, zone tokens stay in their zone, secrets are shown once, and every mutation leaves a
// chained admin-audit row before it answers.
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorityStack, type AuthorityStack } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';

let s: AuthorityStack;

beforeAll(async () => {
  s = await startAuthorityStack('api', {}, { apiEnv: { API_RATE_PER_MIN: '10000' } });
  await s.admin('POST', '/v1/zones', { slug: 'north', name: 'North' });
  await s.admin('POST', '/v1/zones', { slug: 'south', name: 'South' });
});
afterAll(() => s.stop());

const as = (token: string, method: string, path: string, body?: unknown) =>
  fetch(`${s.api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as any, headers: r.headers }));

describe('authentication', () => {
  it.each([
    ['no header', undefined, 'an admin bearer token is required'],
    ['not bearer', 'Basic eDp5', 'the admin token is malformed'],
    ['short token', 'Bearer abc', 'the admin token is malformed'],
    ['unknown token', `Bearer ${'1'.repeat(64)}`, 'the admin token is unknown, revoked or expired'],
  ])('%s → 401 invalid_token', async (_n, header, description) => {
    const res = await fetch(`${s.api.url}/v1/zones`, { headers: header ? { authorization: header } : {} });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'invalid_token', error_description: description });
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('schemas', () => {
  it.each([
    ['/v1/zones', { slug: 'x1', name: 'X', color: 'red' }, "unknown field 'color' in body"],
    ['/v1/zones', { slug: 'Bad Slug', name: 'X' }, 'body.slug must match pattern'],
    ['/v1/zones/north/applications', { name: 'a', secret: 'mine' }, "unknown field 'secret' in body"],
    ['/v1/zones/north/resources', { identifier: 'resource://r', upstream_url: 'http://x', extra: 1 }, "unknown field 'extra' in body"],
    ['/v1/zones/north/resources', { identifier: 'resource://r', upstream_url: 'http://x', auth_placement: { in: 'cookie', name: 'x' } }, 'body.auth_placement.in must be equal to one of the allowed values'],
    ['/v1/zones/north/grants', { application: 'a', resource: 'r', scopes: [] }, 'body.scopes must NOT have fewer than 1 items'],
  ])('%s rejects %j', async (path, body, description) => {
    const res = await s.admin('POST', path, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(res.body.error_description).toContain(description);
  });

  it('malformed JSON and wrong content types are refused', async () => {
    const bad = await fetch(`${s.api.url}/v1/zones`, { method: 'POST', headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json' }, body: '{"slug":' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'invalid_request', error_description: 'malformed JSON body' });
    const text = await fetch(`${s.api.url}/v1/zones`, { method: 'POST', headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'text/plain' }, body: 'x' });
    expect(text.status).toBe(415);
  });

  it.each([
    ['ftp://files.example/x', 'upstream_url is refused: only http and https upstreams are allowed'],
    ['http://user:pw@files.example/x', 'upstream_url is refused: userinfo is not allowed in upstream URLs'],
    ['http://files.example/x?key=1', 'upstream_url must not have a query or fragment'],
    ['not a url', 'upstream_url is refused: malformed URL'],
  ])('upstream %s is refused', async (upstream_url, description) => {
    const res = await s.admin('POST', '/v1/zones/north/resources', { identifier: 'resource://up', upstream_url });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: description } });
  });

  it('a reserved header name for the credential is refused', async () => {
    const res = await s.admin('POST', '/v1/zones/north/resources', { identifier: 'resource://hdr', upstream_url: 'http://x.example', auth_placement: { in: 'header', name: 'Host' } });
    expect(res.body.error_description).toBe("auth_placement.name 'Host' is reserved");
  });
});

describe('objects', () => {
  it('shows an application secret once; rotation replaces it; the hash is never returned', async () => {
    const created = await s.admin('POST', '/v1/zones/north/applications', { name: 'once' });
    expect(created.status).toBe(201);
    expect(created.body.client_secret).toMatch(/^[0-9a-f]{64}$/);
    const got = await s.admin('GET', `/v1/zones/north/applications/${created.body.client_id}`);
    expect(got.body.client_secret).toBeUndefined();
    expect(JSON.stringify(got.body)).not.toContain(createHash('sha256').update(created.body.client_secret).digest('hex'));
    const rotated = await s.admin('POST', `/v1/zones/north/applications/${created.body.id}/rotate-secret`);
    expect(rotated.body.client_secret).not.toBe(created.body.client_secret);
    const old = await s.token({ grant_type: 'client_credentials', client_id: created.body.client_id, client_secret: created.body.client_secret });
    expect(old.status).toBe(401);
    const fresh = await s.token({ grant_type: 'client_credentials', client_id: created.body.client_id, client_secret: rotated.body.client_secret });
    expect(fresh.status).toBe(200);
  });

  it('seals the resource credential: never returned, not stored in clear', async () => {
    const res = await s.admin('POST', '/v1/zones/north/resources', { identifier: 'resource://sealed', upstream_url: 'http://x.example', credential: 'sk_live_visible_marker' });
    expect(res.status).toBe(201);
    expect(res.body.has_credential).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain('sk_live_visible_marker');
    const list = await s.admin('GET', '/v1/zones/north/resources');
    expect(JSON.stringify(list.body)).not.toContain('sk_live_visible_marker');
    const raw = await adminQuery<{ c: Buffer }>(s.db.adminUrl, "SELECT credential_sealed AS c FROM caracal.resources WHERE identifier = 'resource://sealed'");
    expect(raw.rows[0]!.c.toString('latin1')).not.toContain('sk_live_visible_marker');
  });

  it('duplicates are 409 conflicts; missing objects are 404', async () => {
    expect((await s.admin('POST', '/v1/zones', { slug: 'north', name: 'again' })).body).toEqual({ error: 'conflict', error_description: "zone 'north' already exists" });
    expect((await s.admin('GET', '/v1/zones/nowhere')).status).toBe(404);
    expect((await s.admin('POST', '/v1/zones/north/grants', { application: 'ci_nope', resource: 'resource://sealed', scopes: ['a'] })).status).toBe(404);
    expect((await s.admin('POST', `/v1/zones/north/sessions/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/revoke`, {})).status).toBe(404);
  });

  it('a resource with grants cannot be deleted', async () => {
    const app = await s.admin('POST', '/v1/zones/north/applications', { name: 'granted' });
    await s.admin('POST', '/v1/zones/north/grants', { application: app.body.client_id, resource: 'resource://sealed', scopes: ['a'] });
    const del = await s.admin('DELETE', '/v1/zones/north/resources/sealed');
    expect(del.status).toBe(409);
  });
});

describe('admin tokens, capabilities and zones', () => {
  it('a read-only token reads but cannot write; a zone token stays in its zone; a revoked token stops working', async () => {
    const ro = await s.admin('POST', '/v1/admin-tokens', { name: 'reader', scope: 'global', capabilities: ['read'] });
    expect(ro.status).toBe(201);
    expect(ro.body.token).toMatch(/^[0-9a-f]{64}$/);
    expect((await as(ro.body.token, 'GET', '/v1/zones')).status).toBe(200);
    expect(await as(ro.body.token, 'POST', '/v1/zones', { slug: 'west', name: 'W' })).toMatchObject({ status: 403, body: { error: 'forbidden', error_description: "this admin token lacks the 'write' capability" } });

    const zt = await s.admin('POST', '/v1/admin-tokens', { name: 'north-ops', scope: 'zone', zone: 'north', capabilities: ['read', 'write'] });
    expect((await as(zt.body.token, 'POST', '/v1/zones/north/applications', { name: 'by-zone-token' })).status).toBe(201);
    expect(await as(zt.body.token, 'GET', '/v1/zones/south/applications')).toMatchObject({ status: 403, body: { error_description: 'this admin token is confined to another zone' } });
    expect((await as(zt.body.token, 'POST', '/v1/zones', { slug: 'east', name: 'E' })).status).toBe(403);
    expect((await as(zt.body.token, 'GET', '/v1/zones')).body.items.map((z: { slug: string }) => z.slug)).toEqual(['north']);

    expect((await s.admin('DELETE', `/v1/admin-tokens/${ro.body.id}`)).status).toBe(200);
    expect((await as(ro.body.token, 'GET', '/v1/zones')).status).toBe(401);
    const stored = await adminQuery<{ token_sha256: string }>(s.db.adminUrl, 'SELECT token_sha256 FROM caracal.admin_tokens WHERE id = $1', [zt.body.id]);
    expect(stored.rows[0]!.token_sha256).toBe(createHash('sha256').update(zt.body.token).digest('hex'));
  });

  it('zone tokens must name their zone; global tokens must not', async () => {
    expect((await s.admin('POST', '/v1/admin-tokens', { name: 'x', scope: 'zone', capabilities: ['read'] })).status).toBe(400);
    expect((await s.admin('POST', '/v1/admin-tokens', { name: 'x', scope: 'global', zone: 'north', capabilities: ['read'] })).status).toBe(400);
  });
});

describe('admin audit (R-AUD-5)', () => {
  it('every mutation above left one chained row; the chain verifies with the audit key', async () => {
    const rows = (
      await adminQuery(s.db.adminUrl, 'SELECT seq, action, actor, content_sha256, prev_content_sha256, chain_hmac FROM caracal.admin_audit_events ORDER BY seq')
    ).rows as Array<{ seq: string; action: string; actor: string; content_sha256: string; prev_content_sha256: string; chain_hmac: string }>;
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.map((r) => r.action)).toEqual(expect.arrayContaining(['zone.create', 'application.create', 'application.rotate_secret', 'resource.create', 'grant.create', 'admin_token.create', 'admin_token.revoke']));
    let prev = '0'.repeat(64);
    rows.forEach((r, i) => {
      expect(Number(r.seq)).toBe(i + 1);
      expect(r.prev_content_sha256).toBe(prev);
      expect(r.chain_hmac).toBe(createHmac('sha256', Buffer.from(s.env.AUDIT_HMAC_KEY, 'hex')).update(`${r.content_sha256}|${prev}`).digest('hex'));
      prev = r.content_sha256;
    });
  });

  it('a refused mutation leaves no row', async () => {
    const before = await adminQuery<{ n: string }>(s.db.adminUrl, 'SELECT count(*) AS n FROM caracal.admin_audit_events');
    await s.admin('POST', '/v1/zones', { slug: 'north', name: 'dup' });
    const after = await adminQuery<{ n: string }>(s.db.adminUrl, 'SELECT count(*) AS n FROM caracal.admin_audit_events');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After past the per-token limit', async () => {
    const tight = await startAuthorityStack('apirl', {}, { apiEnv: { API_RATE_PER_MIN: '5' } });
    try {
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 7; i++) {
        last = await fetch(`${tight.api.url}/v1/zones`, { headers: { authorization: `Bearer ${tight.adminToken}` } });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(statuses.slice(5)).toEqual([429, 429]);
      expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await tight.stop();
    }
  });
});

describe('the platform zone', () => {
  it('holds nothing but audit events: creating a client, resource or key there is 409 and writes no admin-audit row', async () => {
    const before = await adminQuery(s.db.adminUrl, 'SELECT count(*)::int AS n FROM caracal.admin_audit_events');
    for (const [path, body] of [
      ['/v1/zones/caracal-platform/applications', { name: 'spoof' }],
      ['/v1/zones/caracal-platform/resources', { identifier: 'resource://spoof', upstream_url: 'http://127.0.0.1:9' }],
      ['/v1/zones/caracal-platform/rotate-key', undefined],
    ] as const) {
      const res = await s.admin('POST', path, body);
      expect(res.status, path).toBe(409);
      expect(res.body).toEqual({ error: 'conflict', error_description: 'the platform zone holds only the audit events of unverified requests; nothing can be created or changed in it' });
    }
    const after = await adminQuery(s.db.adminUrl, 'SELECT count(*)::int AS n FROM caracal.admin_audit_events');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });
});
