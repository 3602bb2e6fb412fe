// The token endpoint against real Postgres and Redis: the happy paths, every malformed request, and the exact
// status, error body and audit event of each denial (R-STS-1..7, §15).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_ZONE_ID } from '../../../../packages/db/dist/index.js';
import { ACCESS, EXCHANGE, startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { algNone, decodePayload, hs256WithPublicKey, signWith, signWithStrangerKey, tamper, zoneKey } from '../../../../test-support/forge.js';

let s: AuthorityStack;
let p: Provisioned;
let other: Provisioned;
let session: string;

beforeAll(async () => {
  s = await startAuthorityStack('sts');
  p = await s.provision('alpha', { scopes: ['items:read', 'items:write'] });
  other = await s.provision('beta');
  session = await s.session(p);
});
afterAll(() => s.stop());

const exchange = (extra: Record<string, string | string[]> = {}) =>
  s.token({ grant_type: EXCHANGE, subject_token: session, subject_token_type: ACCESS, resource: p.resource, scope: 'items:read', ...extra });

async function auditFor(requestId: string | null) {
  const events = await s.auditEvents();
  return events.find((e) => e.request_id === requestId);
}

describe('issuing', () => {
  it('bootstrap issues a session mandate with exactly agent:lifecycle, audience = issuer, ≤ 60 min', async () => {
    const res = await s.token({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: p.clientSecret });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'agent:lifecycle', issued_token_type: ACCESS });
    expect(res.body.expires_in).toBeLessThanOrEqual(3600);
    const c = decodePayload(res.body.access_token);
    expect(c).toMatchObject({ iss: s.env.CARACAL_ISSUER_URL, aud: s.env.CARACAL_ISSUER_URL, use: 'session', scope: 'agent:lifecycle', zone_id: p.zoneId, client_id: p.clientId });
    expect(c.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    const event = await auditFor(res.headers.get('x-request-id'));
    expect(event).toMatchObject({ type: 'mandate.issued', decision: 'allow', zone_id: p.zoneId, client_id: p.clientId, source: 'sts' });
  });

  it('client_secret_basic works as well as client_secret_post', async () => {
    const basic = Buffer.from(`${encodeURIComponent(p.clientId)}:${encodeURIComponent(p.clientSecret)}`).toString('base64');
    const res = await s.token({ grant_type: 'client_credentials' }, { headers: { authorization: `Basic ${basic}` } });
    expect(res.status).toBe(200);
  });

  it('exchange issues a gateway mandate for one resource and a subset of the grant, default TTL 15 min', async () => {
    const res = await exchange();
    expect(res.status).toBe(200);
    expect(res.body.expires_in).toBe(900);
    const c = decodePayload(res.body.access_token);
    expect(c).toMatchObject({ aud: p.resource, use: 'gateway', scope: 'items:read', zone_id: p.zoneId, sid: decodePayload(session).sid });
    const event = await auditFor(res.headers.get('x-request-id'));
    expect(event).toMatchObject({ type: 'mandate.issued', decision: 'allow', resource: p.resource });
  });

  it('ttl_seconds is honoured but capped by the grant', async () => {
    expect((await exchange({ ttl_seconds: '60' })).body.expires_in).toBe(60);
    expect((await exchange({ ttl_seconds: '99999' })).body.expires_in).toBe(900);
  });

  it('a gateway mandate is never a subject: neither narrowed nor widened (issue 8)', async () => {
    const both = await exchange({ scope: 'items:read items:write' });
    for (const scope of ['items:write', 'items:read items:write']) {
      const again = await exchange({ subject_token: both.body.access_token, scope });
      expect(again.status).toBe(400);
      expect(again.body).toEqual({ error: 'invalid_grant', error_description: 'the subject token is not acceptable (subject_not_exchangeable)' });
      expect(await auditFor(again.headers.get('x-request-id'))).toMatchObject({ type: 'mandate.denied', decision: 'deny', reason: 'subject_not_exchangeable' });
    }
  });
});

describe('denials, each with its status, body and audit event', () => {
  it('wrong client secret → 401 invalid_client, audited as client.auth_failed bad_client_secret', async () => {
    const res = await s.token({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: 'f'.repeat(64) });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    expect(res.headers.get('www-authenticate')).toContain('Basic');
    expect(await auditFor(res.headers.get('x-request-id'))).toMatchObject({ type: 'client.auth_failed', reason: 'bad_client_secret', zone_id: p.zoneId });
  });

  it('unknown client → the same 401 body (no oracle)', async () => {
    const res = await s.token({ grant_type: 'client_credentials', client_id: `${p.clientId.slice(0, -4)}0000`, client_secret: p.clientSecret });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
  });

  it('unknown resource → 400 invalid_target', async () => {
    const res = await exchange({ resource: 'resource://nope' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_target', error_description: "unknown resource 'resource://nope'" });
    expect(await auditFor(res.headers.get('x-request-id'))).toMatchObject({ reason: 'unknown_resource', decision: 'deny' });
  });

  it("another zone's resource is unknown here", async () => {
    const res = await exchange({ resource: other.resource });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
  });

  it('scope not granted → 403 access_denied role_scope_mismatch', async () => {
    const res = await exchange({ scope: 'items:delete' });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'access_denied', error_description: 'denied: role_scope_mismatch' });
    expect(await auditFor(res.headers.get('x-request-id'))).toMatchObject({ reason: 'role_scope_mismatch' });
  });

  it('agent:lifecycle is never granted on a resource', async () => {
    const res = await exchange({ scope: 'agent:lifecycle' });
    expect(res.status).toBe(403);
  });

  it('bootstrap asking for another scope → 400 invalid_scope', async () => {
    const res = await s.token({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: p.clientSecret, scope: 'items:read' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
  });

  describe('hostile subject tokens → 400 invalid_grant naming the reason', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const base = () => ({ ...decodePayload(session) });
    const cases: Array<[string, () => Promise<string>, string]> = [
      ['expired', async () => { const k = await zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, p.zoneId); return signWith(k.privateKey, k.kid, { ...base(), iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 }); }, 'token_expired'],
      ['not yet valid', async () => { const k = await zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, p.zoneId); return signWith(k.privateKey, k.kid, { ...base(), nbf: now() + 3600 }); }, 'token_not_yet_valid'],
      ['wrong audience', async () => { const k = await zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, p.zoneId); return signWith(k.privateKey, k.kid, { ...base(), aud: 'https://elsewhere.example' }); }, 'wrong_audience'],
      ['wrong issuer', async () => { const k = await zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, p.zoneId); return signWith(k.privateKey, k.kid, { ...base(), iss: 'https://evil.example' }); }, 'wrong_issuer'],
      ['alg none', async () => algNone(base(), decodeHeaderKid(session)), 'alg_not_allowed'],
      ['HS256 keyed with the public key', async () => hs256WithPublicKey(base(), await zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, p.zoneId)), 'alg_not_allowed'],
      ['unknown kid', async () => signWithStrangerKey(base()), 'unknown_key'],
      ['known kid, stranger key', async () => signWithStrangerKey(base(), decodeHeaderKid(session)), 'bad_signature'],
      ['wrong zone (zone B claim under zone A key)', async () => { const k = await zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, p.zoneId); return signWith(k.privateKey, k.kid, { ...base(), zone_id: other.zoneId }); }, 'unknown_key'],
      ['tampered payload', async () => tamper(session, { scope: 'items:write' }), 'bad_signature'],
      ['not a JWT', async () => 'not.a.jwt', 'malformed_token'],
      ['over 4 KiB', async () => `${session}${'A'.repeat(4096)}`, 'token_too_large'],
    ];
    it.each(cases)('%s', async (_name, make, reason) => {
      const res = await exchange({ subject_token: await make() });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_grant', error_description: `the subject token is not acceptable (${reason})` });
    });

    it('a forged token claiming a real zone is audited in the platform zone, not the claimed one', async () => {
      const res = await exchange({ subject_token: tamper(session, { scope: 'x' }) });
      expect(await auditFor(res.headers.get('x-request-id'))).toMatchObject({ zone_id: PLATFORM_ZONE_ID, type: 'mandate.denied', reason: 'bad_signature' });
    });
  });
});

function decodeHeaderKid(token: string): string {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')).kid;
}

describe('bad input (§15)', () => {
  const raw = (body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }, query = '') =>
    fetch(`${s.sts.url}/oauth/2/token${query}`, { method: 'POST', headers, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  it.each([
    ['application/json', '{"grant_type":"client_credentials"}'],
    ['text/plain', 'grant_type=client_credentials'],
    ['multipart/form-data; boundary=x', '--x--'],
  ])('content type %s → 415', async (type, body) => {
    const res = await raw(body, { 'content-type': type });
    expect(res.status).toBe(415);
    expect(res.body.error).toBe('unsupported_media_type');
  });

  it('a query string → 400', async () => {
    expect(await raw('grant_type=client_credentials', undefined, '?client_secret=x')).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'the token endpoint takes no query string' },
    });
  });

  it('a repeated singleton parameter → 400, but resource may repeat (and then names one resource too many)', async () => {
    expect((await raw('grant_type=client_credentials&grant_type=client_credentials')).body).toEqual({ error: 'invalid_request', error_description: "parameter 'grant_type' is repeated" });
    const two = await exchange({ resource: [p.resource, other.resource] });
    expect(two.status).toBe(400);
    expect(two.body).toEqual({ error: 'invalid_target', error_description: 'name exactly one resource per mandate' });
  });

  it('an oversized body → 413', async () => {
    const res = await raw(`grant_type=client_credentials&pad=${'a'.repeat(20_000)}`);
    expect(res.status).toBe(413);
  });

  it('invalid UTF-8 (raw or percent-encoded) → 400', async () => {
    expect((await raw(Buffer.from([0x67, 0x3d, 0xff, 0xfe]))).body.error_description).toBe('the form body is not valid UTF-8');
    expect((await raw('grant_type=%ff%fe')).body.error_description).toBe('the form body has malformed percent-encoding or invalid UTF-8');
    expect((await raw('grant_type=%zz')).status).toBe(400);
  });

  it('control characters → 400', async () => {
    expect((await raw('grant_type=client%00credentials')).status).toBe(400);
  });

  it('unknown grant types → 400 unsupported_grant_type', async () => {
    expect((await raw('grant_type=password')).body).toEqual({ error: 'unsupported_grant_type', error_description: "grant_type 'password' is not supported" });
    expect((await raw('')).body).toEqual({ error: 'invalid_request', error_description: "parameter 'grant_type' is required" });
  });

  it('a parameter the grant does not accept → 400 naming it (each grant declares its parameters)', async () => {
    const boot = await s.token({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: p.clientSecret, resource: p.resource });
    expect(boot.status).toBe(400);
    expect(boot.body).toEqual({ error: 'invalid_request', error_description: "parameter 'resource' is not accepted by grant_type client_credentials" });
    const ex = await exchange({ subject_token_hint: 'x' });
    expect(ex.status).toBe(400);
    expect(ex.body).toEqual({ error: 'invalid_request', error_description: `parameter 'subject_token_hint' is not accepted by grant_type ${EXCHANGE}` });
  });

  it('actor_token → 400', async () => {
    const res = await exchange({ actor_token: session, actor_token_type: ACCESS });
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'actor_token is not supported: delegation uses delegation_edge_id' });
  });

  it.each(['https://billing.example/api', 'resource://Upper', 'resource://x#frag', 'resource://x?y=1', 'not a uri', 'resource://'])('malformed resource %s → 400 invalid_target', async (resource) => {
    const res = await exchange({ resource });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
  });

  it('missing or wrong subject_token_type → 400', async () => {
    expect((await exchange({ subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' })).status).toBe(400);
    const res = await s.token({ grant_type: EXCHANGE, subject_token: session, resource: p.resource, scope: 'items:read' });
    expect(res.body).toEqual({ error: 'invalid_request', error_description: "parameter 'subject_token_type' is required" });
  });

  it('bad ttl_seconds and bad UUID parameters → 400', async () => {
    expect((await exchange({ ttl_seconds: '-5' })).status).toBe(400);
    expect((await exchange({ ttl_seconds: '1e3' })).status).toBe(400);
    expect((await exchange({ agent_session_id: 'nope' })).body.error_description).toBe("parameter 'agent_session_id' must be a UUID");
  });

  it('a session mandate cannot be used where a bootstrap credential is expected', async () => {
    const res = await s.token({ grant_type: 'client_credentials' }, { headers: { authorization: `Bearer ${session}` } });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });
});

describe('discovery', () => {
  it('serves RFC 8414 metadata and the zone JWKS with a 300 s cache', async () => {
    const meta = await fetch(`${s.sts.url}/.well-known/oauth-authorization-server`).then((r) => r.json());
    expect(meta).toMatchObject({ issuer: s.env.CARACAL_ISSUER_URL, token_endpoint: `${s.env.CARACAL_ISSUER_URL}/oauth/2/token` });
    const jwks = await fetch(`${s.sts.url}/.well-known/jwks.json?zone_id=${p.zoneId}`);
    expect(jwks.headers.get('cache-control')).toBe('max-age=300');
    const body = (await jwks.json()) as any;
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(body.keys[0].d).toBeUndefined();
    expect((await fetch(`${s.sts.url}/.well-known/jwks.json`)).status).toBe(400);
    expect((await fetch(`${s.sts.url}/.well-known/jwks.json?zone_id=x`)).status).toBe(400);
  });
});
