// Operation rules are matched against the one canonical path the upstream then receives (R-GW-1, RFC 3986
// §6.2.2): percent-encoding cannot reach a route the rules guard, through the real gateway and STS, against an
// upstream that decodes paths as common frameworks do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_ZONE_ID } from '../../../../packages/db/dist/index.js';
import { startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { startDecodingUpstream, type DecodingUpstream } from '../support/decoding-upstream.js';
import { rawRequest } from '../support/gateway-call.js';

let s: AuthorityStack;
let up: DecodingUpstream;
let reader: Provisioned;
let admin: Provisioned;

const OPERATIONS = [
  { method: 'GET', path: '/admin*', scope: 'ops:admin' },
  { method: 'GET', path: '/export', scope: 'ops:export' },
  { method: 'GET', path: '/*', scope: 'ops:read' },
];

beforeAll(async () => {
  s = await startAuthorityStack('gwpath');
  up = await startDecodingUpstream();
  reader = await s.provision('reader', { upstream: up.url, operations: OPERATIONS, scopes: ['ops:read'] });
  admin = await s.provision('admin', { upstream: up.url, operations: OPERATIONS, scopes: ['ops:read', 'ops:admin'] });
});
afterAll(async () => {
  await s.stop();
  await up.close();
});

const prefix = (p: Provisioned) => `/${p.resource.slice('resource://'.length)}`;
const send = async (p: Provisioned, suffix: string, scope = 'ops:read') => {
  const token = await s.mandate(p, undefined, scope);
  const before = up.seen.length;
  const res = await rawRequest(s.gateway.url, `${prefix(p)}${suffix}`, { authorization: `Bearer ${token}` });
  return { ...res, forwarded: up.seen.slice(before) };
};
const eventOf = async (requestId: unknown) => (await s.auditEvents()).find((e) => e.request_id === requestId && e.source === 'gateway');

describe('an encoded spelling of a guarded route is matched as that route', () => {
  it.each(['/admin/secret', '/%61dmin/secret', '/adm%69n/secret', '/%61%64%6D%69%6E/secret', '/%65xport', '/expor%74'])('%s with ops:read → 403, nothing forwarded', async (suffix) => {
    const res = await send(reader, suffix);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'insufficient_scope', error_description: 'denied: role_scope_mismatch' });
    expect(res.forwarded).toEqual([]);
    expect(await eventOf(res.headers['x-request-id'])).toMatchObject({ type: 'gateway.denied', reason: 'role_scope_mismatch', zone_id: reader.zoneId });
  });

  it('with ops:admin, /%61dmin/secret is allowed and the upstream receives the canonical /admin/secret', async () => {
    const res = await send(admin, '/%61dmin/secret?q=%61', 'ops:admin');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ route: 'admin', raw: '/admin/secret?q=%61' });
  });
});

describe('ambiguous paths → 400 path_rejected, audited under the platform zone, nothing forwarded', () => {
  it.each([
    ['/docs%2Fadmin', 'encoded / in path'],
    ['/docs%2fadmin', 'encoded / in path'],
    ['/items;jsessionid=1', 'path parameter (;) in path'],
    ['/admin;x/secret', 'path parameter (;) in path'],
    ['/items%3Bx', 'encoded ; in path'],
    ['/items%3Fadmin', 'encoded ? in path'],
    ['/%2561dmin/secret', 'encoded % in path'],
    ['/items%5Cadmin', 'backslash in path'],
    ['/items%00', 'NUL byte in path'],
  ])('%s', async (suffix, why) => {
    const res = await send(reader, suffix);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: `the request path is refused (${why})` });
    expect(res.forwarded).toEqual([]);
    // The path is checked before the mandate, so the denial belongs to no verified zone.
    expect(await eventOf(res.headers['x-request-id'])).toMatchObject({ type: 'gateway.denied', reason: 'path_rejected', zone_id: PLATFORM_ZONE_ID });
  });
});

describe('what is matched is what is forwarded, byte for byte', () => {
  it('a trailing slash is significant: /export/ is not the exact /export rule, and goes upstream as /export/', async () => {
    const res = await send(reader, '/export/');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ route: 'public', raw: '/export/' });
  });

  it('letter case is significant: /ADMIN/secret is not /admin*, and goes upstream as /ADMIN/secret', async () => {
    const res = await send(reader, '/%41DMIN/secret');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ route: 'public', raw: '/ADMIN/secret' });
  });

  it('remaining escapes go upstream with uppercase hex, characters a path may hold go unencoded', async () => {
    const res = await send(reader, '/caf%c3%a9/%7euser/a%40b%3ac/%22q%22');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ route: 'public', raw: '/caf%C3%A9/~user/a@b:c/%22q%22' });
  });
});
