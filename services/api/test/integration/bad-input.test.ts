// Bad input is the caller's, named and refused before it reaches Postgres or the gateway (§15, R-GW-3): NUL and
// unpaired surrogates in any string (body, query, path), upstream URLs the gateway would always refuse, and
// credentials that could not be sent as a header. Every refusal is a 400 naming the field and leaves no audit row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorityStack, type AuthorityStack } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';

let s: AuthorityStack;

beforeAll(async () => {
  s = await startAuthorityStack('badin', {}, { apiEnv: { API_RATE_PER_MIN: '10000' } });
  await s.admin('POST', '/v1/zones', { slug: 'north', name: 'North' });
});
afterAll(() => s.stop());

const adminRows = async () => Number((await adminQuery<{ n: string }>(s.db.adminUrl, 'SELECT count(*) AS n FROM caracal.admin_audit_events')).rows[0]!.n);

/** Sends a JSON text as given, so escapes such as a lone `\ud800` reach the parser untouched. */
const postRaw = (path: string, json: string) =>
  fetch(`${s.api.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json' }, body: json }).then(async (r) => ({ status: r.status, body: await r.json() }));

/** Expects a 400 with exactly this description, and no admin-audit row written. */
async function refused(call: () => Promise<{ status: number; body: unknown }>, description: string): Promise<void> {
  const before = await adminRows();
  const { status, body } = await call();
  expect({ status, body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: description } });
  expect(await adminRows()).toBe(before);
}

describe('NUL and invalid Unicode in any string', () => {
  it.each([
    ['/v1/zones', '{"slug":"nul","name":"a\\u0000b"}', 'body.name must not contain NUL characters'],
    ['/v1/zones/north/applications', '{"name":"agent\\u0000"}', 'body.name must not contain NUL characters'],
    ['/v1/zones/north/resources', '{"identifier":"resource://r","upstream_url":"http://x.example","credential":"k\\u0000"}', 'body.credential must not contain NUL characters'],
    ['/v1/zones', '{"slug":"sur","name":"a\\ud800b"}', 'body.name must be valid Unicode (it holds an unpaired surrogate)'],
    ['/v1/zones', '{"slug":"sur","name":"\\udc00"}', 'body.name must be valid Unicode (it holds an unpaired surrogate)'],
    ['/v1/zones/north/applications', '{"name":"a","labels":["x\\u0000"]}', 'body.labels[0] must not contain NUL characters'],
  ])('POST %s %s → 400 naming the field', async (path, json, description) => {
    await refused(() => postRaw(path, json), description);
  });

  it('a well-formed surrogate pair is accepted', async () => {
    const res = await postRaw('/v1/zones', '{"slug":"emoji","name":"zone \\ud83d\\ude00"}');
    expect(res.status).toBe(201);
  });

  it.each([
    ['/v1/zones/north/audit/events?request_id=%00', 'query.request_id must not contain NUL characters'],
    ['/v1/zones/north/audit/events?type=a%00', 'query.type must not contain NUL characters'],
    ['/v1/zones/north/resources/r%00x', 'params.resource must not contain NUL characters'],
  ])('GET %s → 400 naming the parameter, not 503', async (path, description) => {
    const res = await s.admin('GET', path);
    expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: description } });
  });
});

describe('upstream URLs the gateway would refuse (R-GW-3)', () => {
  it.each([
    ['http://169.254.169.254/latest/meta-data', 'cloud metadata address'],
    ['http://[fd00:ec2::254]/', 'cloud metadata address'],
    ['http://169.254.10.1/', 'link-local address'],
    ['http://[fe80::1]/', 'link-local address'],
    ['http://0x7f.1/', undefined],
    ['http://[::ffff:169.254.169.254]/', 'cloud metadata address (embedded in IPv4-mapped IPv6)'],
    ['http://224.0.0.1/', 'multicast address'],
    ['http://0.0.0.0/', 'unspecified address'],
    ['file:///etc/passwd', 'only http and https upstreams are allowed'],
    ['gopher://x.example/', 'only http and https upstreams are allowed'],
    ['http://@x.example/', 'userinfo is not allowed in upstream URLs'],
    ['http://u@x.example/', 'userinfo is not allowed in upstream URLs'],
  ])('%s → 400 with the guard reason', async (upstream_url, reason) => {
    const call = () => s.admin('POST', '/v1/zones/north/resources', { identifier: 'resource://ssrf', upstream_url });
    if (reason === undefined) {
      // 127.0.0.1 spelled in hex: loopback is allowed by default (the gateway fronts local upstreams).
      const res = await call();
      expect(res.status).toBe(201);
      await s.admin('DELETE', '/v1/zones/north/resources/ssrf');
      return;
    }
    await refused(call, `upstream_url is refused: ${reason}`);
  });
});

describe('credentials that could not travel as a header value', () => {
  it.each([
    ['CR', 'key\rinjected: 1'],
    ['LF', 'key\nx-admin: 1'],
    ['CRLF', 'key\r\nx: y'],
    ['TAB', 'key\tvalue'],
    ['DEL', 'key\u007f'],
    ['ESC', '\u001b[31m'],
  ])('a credential holding %s → 400 naming the field', async (_name, credential) => {
    await refused(
      () => s.admin('POST', '/v1/zones/north/resources', { identifier: 'resource://ctl', upstream_url: 'http://x.example', credential }),
      'credential must not contain control characters (CR, LF, NUL, …)',
    );
  });

  it('a printable credential is accepted and never returned', async () => {
    const res = await s.admin('POST', '/v1/zones/north/resources', { identifier: 'resource://ok', upstream_url: 'http://x.example', credential: 'sk-live abc/+=' });
    expect(res.status).toBe(201);
    expect(res.body.has_credential).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain('sk-live');
  });
});
