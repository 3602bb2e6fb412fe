// The gateway against real Postgres, Redis, STS and a recording upstream: what reaches the upstream, what
// reaches the caller, and the exact answer and audit event of every refusal (R-GW-1..6, §15).
import { rawRequest } from '../support/gateway-call.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { algNone, decodePayload, hs256WithPublicKey, signWith, signWithStrangerKey, tamper, zoneKey } from '../../../../test-support/forge.js';

let s: AuthorityStack;
let p: Provisioned;
let other: Provisioned;

beforeAll(async () => {
  s = await startAuthorityStack('gw');
  p = await s.provision('gamma', { operations: [{ method: 'GET', path: '/items*', scope: 'items:read' }, { method: 'POST', path: '/items', scope: 'items:read' }] });
  other = await s.provision('delta');
});
afterAll(() => s.stop());

const call = async (path: string, token?: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) => {
  const res = await fetch(`${s.gateway.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers },
    body: init.body,
    redirect: 'manual',
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers, text };
};
/** A raw HTTP/1.1 request: fetch would normalise the path and refuses hop-by-hop headers. */
const raw = (target: string, headers: Record<string, string>) => rawRequest(s.gateway.url, target, headers);
const path = () => `/${p.resource.slice('resource://'.length)}`;
const auditOf = async (res: { headers: Headers }) => (await s.auditEvents()).find((e) => e.request_id === res.headers.get('x-request-id') && e.source === 'gateway');

describe('allow', () => {
  it('forwards with the upstream credential injected; the upstream never sees the mandate, the caller never sees the credential', async () => {
    const token = await s.mandate(p);
    const before = s.upstream.requests.length;
    const res = await call(`${path()}/items/7?x=1`, token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, url: '/items/7?x=1' });
    const seen = s.upstream.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.authorization).toBe('Bearer upstream-credential-value');
    expect(JSON.stringify(seen[0]!.headers)).not.toContain(token);
    expect(res.text).not.toContain('upstream-credential-value');
    expect(JSON.stringify([...res.headers])).not.toContain('upstream-credential-value');
    expect(await auditOf(res)).toMatchObject({ type: 'gateway.allowed', decision: 'allow', zone_id: p.zoneId, resource: p.resource, client_id: p.clientId });
  });

  it('strips hop-by-hop, Connection-named, caller Authorization, X-Forwarded-*, X-Caracal-*; sets X-Request-Id and traceparent', async () => {
    const token = await s.mandate(p);
    const before = s.upstream.requests.length;
    const res = await raw(`${path()}/items`, {
        authorization: `Bearer ${token}`,
        connection: 'keep-alive, x-secret-hop',
        'x-secret-hop': 'drop-me',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic eA==',
        te: 'trailers',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=6.6.6.6',
        'x-real-ip': '6.6.6.6',
        'x-caracal-zone': 'other',
        'x-keep': 'kept',
        'x-request-id': 'caller-rid-1',
    });
    expect(res.status).toBe(200);
    const h = s.upstream.requests.slice(before)[0]!.headers;
    for (const name of ['x-secret-hop', 'keep-alive', 'proxy-authorization', 'te', 'x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip', 'x-caracal-zone']) {
      expect(h[name], name).toBeUndefined();
    }
    expect(h.authorization).toBe('Bearer upstream-credential-value');
    expect(h['x-keep']).toBe('kept');
    expect(h['x-request-id']).toBe('caller-rid-1');
    expect(h.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(res.headers.server).toBeUndefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toBe('caller-rid-1');
  });

  it('streams a request body through', async () => {
    const token = await s.mandate(p);
    const before = s.upstream.requests.length;
    const res = await call(`${path()}/items`, token, { method: 'POST', body: 'x'.repeat(100_000), headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(200);
    expect(s.upstream.requests.slice(before)[0]!.body).toHaveLength(100_000);
  });
});

describe('refusals before anything reaches the upstream', () => {
  const untouched = async (fn: () => Promise<void>) => {
    const before = s.upstream.requests.length;
    await fn();
    expect(s.upstream.requests.length).toBe(before);
  };

  it('no bearer → 401 with an RFC 9728 challenge; the metadata names the STS', async () => {
    await untouched(async () => {
      const res = await call(`${path()}/items`);
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate')!;
      expect(challenge).toBe(`Bearer resource_metadata="${s.gateway.url}/.well-known/oauth-protected-resource/${path().slice(1)}"`);
      const meta = await fetch(challenge.match(/"(.+)"/)![1]!).then((r) => r.json());
      expect(meta).toMatchObject({ resource: `${s.gateway.url}${path()}`, authorization_servers: [s.env.CARACAL_ISSUER_URL] });
    });
  });

  it('a replayed mandate → 401 token_replayed, audited', async () => {
    const token = await s.mandate(p);
    expect((await call(`${path()}/items`, token)).status).toBe(200);
    await untouched(async () => {
      const res = await call(`${path()}/items`, token);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_token', error_description: 'this mandate was already used' });
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(await auditOf(res)).toMatchObject({ type: 'gateway.denied', reason: 'token_replayed' });
    });
  });

  describe('hostile mandates → 401 naming the reason', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const claims = async () => decodePayload(await s.mandate(p));
    const key = () => zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, p.zoneId);
    const cases: Array<[string, () => Promise<string>, string]> = [
      ['expired', async () => { const k = await key(); return signWith(k.privateKey, k.kid, { ...(await claims()), exp: now() - 10 }); }, 'token_expired'],
      ['not yet valid', async () => { const k = await key(); return signWith(k.privateKey, k.kid, { ...(await claims()), nbf: now() + 600 }); }, 'token_not_yet_valid'],
      ['wrong audience (another resource)', async () => s.mandate(other), 'wrong_audience'],
      ['wrong issuer', async () => { const k = await key(); return signWith(k.privateKey, k.kid, { ...(await claims()), iss: 'https://evil.example' }); }, 'wrong_issuer'],
      ['a session mandate', async () => s.session(p), 'wrong_audience'],
      ['alg none', async () => algNone(await claims(), (await key()).kid), 'alg_not_allowed'],
      ['HS256 with the public key', async () => hs256WithPublicKey(await claims(), await key()), 'alg_not_allowed'],
      ['unknown kid', async () => signWithStrangerKey(await claims()), 'unknown_key'],
      ['wrong zone', async () => { const k = await key(); return signWith(k.privateKey, k.kid, { ...(await claims()), zone_id: other.zoneId }); }, 'unknown_key'],
      ['tampered', async () => tamper(await s.mandate(p), { scope: 'items:read items:admin' }), 'bad_signature'],
    ];
    it.each(cases)('%s', async (_n, make, reason) => {
      const token = await make();
      await untouched(async () => {
        const res = await call(`${path()}/items`, token);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: 'invalid_token', error_description: `the mandate is not acceptable (${reason})` });
      });
    });

    it('a token over 4 KiB → 401', async () => {
      const res = await call(`${path()}/items`, `${await s.mandate(p)}${'a'.repeat(4096)}`);
      expect(res.status).toBe(401);
      expect(res.body.error_description).toBe('the bearer token is larger than 4 KiB');
    });
  });

  it('an operation the mandate has no scope for → 403', async () => {
    await untouched(async () => {
      const res = await call(`${path()}/admin`, await s.mandate(p));
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'insufficient_scope', error_description: 'denied: no_rule_matched' });
    });
  });

  it.each([
    '/../etc/passwd',
    '/items/../../admin',
    '/%2e%2e/admin',
    '/%252e%252e/admin',
    '/%25252e%25252e/admin',
    '/..%2fadmin',
    '/..%5cadmin',
    '/items/%2e/x',
    '/%c0%ae%c0%ae/admin',
    '/items%00.json',
  ])('path traversal %s → 400', async (suffix) => {
    const token = await s.mandate(p);
    await untouched(async () => {
      const res = await raw(`${path()}${suffix}`, { authorization: `Bearer ${token}` });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });
  });

  it('a revoked lineage fails on the very next call with 401', async () => {
    const session = await s.session(p);
    expect((await call(`${path()}/items`, await s.mandate(p, session))).status).toBe(200);
    const next = await s.mandate(p, session);
    const revoke = await s.admin('POST', `/v1/zones/${p.slug}/sessions/${decodePayload(session).sid}/revoke`, { reason: 'test' });
    expect(revoke.status).toBe(200);
    await untouched(async () => {
      const res = await call(`${path()}/items`, next);
      expect(res.status).toBe(401);
      expect(res.body.error_description).toMatch(/lineage_revoked|the mandate lineage is revoked/);
      expect(await auditOf(res)).toMatchObject({ type: 'gateway.denied', decision: 'deny' });
    });
    const again = await s.token({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: session, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource: p.resource, scope: 'items:read' });
    expect(again.status).toBe(400);
    expect(again.body.error_description).toContain('lineage_revoked');
  });
});

describe('upstream failures', () => {
  it('a hanging upstream → 504', async () => {
    s.upstream.handler = () => undefined;
    try {
      const res = await call(`${path()}/items`, await s.mandate(p));
      expect(res.status).toBe(504);
      expect(res.body.error).toBe('upstream_timeout');
    } finally {
      delete s.upstream.handler;
    }
  });

  it('a request body over the limit → 413 (declared or streamed)', async () => {
    await s.restartGateway({ GATEWAY_BODY_LIMIT_BYTES: '1000' });
    try {
      const declared = await call(`${path()}/items`, await s.mandate(p), { method: 'POST', body: 'x'.repeat(5000) });
      expect(declared.status).toBe(413);
      const stream = new ReadableStream({ start: (c) => { c.enqueue(new TextEncoder().encode('y'.repeat(5000))); c.close(); } });
      const chunked = await fetch(`${s.gateway.url}${path()}/items`, { method: 'POST', headers: { authorization: `Bearer ${await s.mandate(p)}` }, body: stream, duplex: 'half' } as RequestInit);
      expect(chunked.status).toBe(413);
    } finally {
      await s.restartGateway();
    }
  });

  it('an upstream response over the limit → 502', async () => {
    await s.restartGateway({ GATEWAY_RESPONSE_LIMIT_BYTES: '1000' });
    s.upstream.handler = (_q, r) => r.end('z'.repeat(5000));
    try {
      const res = await call(`${path()}/items`, await s.mandate(p));
      expect(res.status).toBe(502);
      expect(res.body.error_description).toBe('the upstream response is too large');
    } finally {
      delete s.upstream.handler;
      await s.restartGateway();
    }
  });

  it('an upstream redirect is passed back, never followed', async () => {
    s.upstream.handler = (_q, r) => {
      r.statusCode = 302;
      r.setHeader('location', 'http://169.254.169.254/latest/meta-data/');
      r.end();
    };
    try {
      const before = s.upstream.requests.length;
      const res = await call(`${path()}/items`, await s.mandate(p));
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('http://169.254.169.254/latest/meta-data/');
      expect(s.upstream.requests.length).toBe(before + 1);
    } finally {
      delete s.upstream.handler;
    }
  });
});
