// SSRF through the real gateway (R-GW-3) — every blocked spelling refused by the api or by the gateway's guard,
// never by a failed connection — and the signed gateway→STS link (R-GW-2): forged signature, replayed nonce,
// clock skew, an STS that never answers, and the STS going away.
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signRequest } from '@caracal/internal-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';

const FAKE_DNS: Record<string, string[]> = {
  'metadata.internal.test': ['169.254.169.254'],
  'metadata.google.internal': ['169.254.169.254'],
  'rebind.test': ['127.0.0.1', '169.254.169.254'],
  'mcast.test': ['224.0.0.251'],
  'v6meta.test': ['fd00:ec2::254'],
  '169.254.169.254.nip.io': ['169.254.169.254'],
};

let s: AuthorityStack;
let p: Provisioned;

beforeAll(async () => {
  s = await startAuthorityStack('ssrf', {
    resolve: async (host) => (FAKE_DNS[host] ? FAKE_DNS[host]!.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })) : lookup(host, { all: true, verbatim: true })),
  });
  p = await s.provision('ssrf');
});
afterAll(() => s.stop());

const BLOCKED = [
  'http://169.254.169.254/latest/meta-data',
  'http://2852039166/',
  'http://0251.0376.0251.0376/',
  'http://0xa9.0xfe.0xa9.0xfe/',
  'http://0xa9fea9fe/',
  'http://169.254.43518/',
  'http://169.16689662/',
  'http://0251.254.169.254/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://[::169.254.169.254]/',
  'http://[64:ff9b::a9fe:a9fe]/',
  'http://[64:ff9b::169.254.169.254]/',
  'http://[2002:a9fe:a9fe::1]/',
  'http://[::]/',
  'http://0/',
  'http://0.0.0.0/',
  'http://[fe80::1]/',
  'http://169.254.0.1/',
  'http://224.0.0.1/',
  'http://[ff02::1]/',
  'http://255.255.255.255/',
  'http://100.100.100.200/',
  'http://[fd00:ec2::254]/',
  'http://metadata.internal.test/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://rebind.test/',
  'http://mcast.test/',
  'http://v6meta.test/',
  'http://169.254.169.254.nip.io/',
  'https://169.254.169.254/',
  'http://user:pass@example.com/',
  'http://example.com@169.254.169.254/',
  'ftp://169.254.169.254/',
  'file:///etc/passwd',
  'gopher://169.254.169.254:70/_x',
];

describe('SSRF: blocked upstream spellings', () => {
  it(`has at least 30 spellings (${BLOCKED.length})`, () => expect(BLOCKED.length).toBeGreaterThanOrEqual(30));

  it.each(BLOCKED.map((u, i) => [i, u] as const))('#%i %s is refused', async (i, upstream) => {
    const name = `ssrf-${i}`;
    const created = await s.admin('POST', `/v1/zones/${p.slug}/resources`, { identifier: `resource://${name}`, upstream_url: upstream, credential: 'c', operations: [{ method: '*', path: '/*', scope: 'items:read' }] });
    if (created.status === 400) {
      // Refused at the door: the api only stores plain http(s) URLs without credentials.
      expect(created.body.error).toBe('invalid_request');
      return;
    }
    expect(created.status).toBe(201);
    await s.admin('POST', `/v1/zones/${p.slug}/grants`, { application: p.clientId, resource: `resource://${name}`, scopes: ['items:read'] });
    const mandate = await s.mandate({ ...p, resource: `resource://${name}` });
    const res = await fetch(`${s.gateway.url}/${name}/x`, { headers: { authorization: `Bearer ${mandate}` } });
    expect(res.status).toBe(502);
    expect((await res.json()) as any).toEqual({ error: 'bad_gateway', error_description: 'the upstream is refused by the SSRF guard' });
    const event = (await s.auditEvents()).find((e) => e.request_id === res.headers.get('x-request-id') && e.source === 'gateway');
    expect(event).toMatchObject({ decision: 'deny', reason: 'upstream_blocked' });
  });
});

describe('the gateway → STS link', () => {
  const PATH = '/internal/v1/gateway/authorize';
  const send = (body: string, headers: Record<string, string>) =>
    fetch(`${s.sts.url}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  const body = async () => JSON.stringify({ token: await s.mandate(p), resource: p.resource, method: 'GET', path: '/x' });

  it('a correctly signed request gets a directive', async () => {
    const b = await body();
    const res = await send(b, signRequest({ key: s.env.GATEWAY_STS_HMAC_KEY, method: 'POST', path: PATH, body: b }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ decision: 'allow', upstream_url: s.upstream.url, placement: { in: 'header', name: 'authorization', value: 'Bearer upstream-credential-value' } });
  });

  it('a forged signature → 401', async () => {
    const b = await body();
    const res = await send(b, signRequest({ key: 'ab'.repeat(32), method: 'POST', path: PATH, body: b }));
    expect(res).toEqual({ status: 401, body: { error: 'invalid_signature', error_description: 'gateway signature refused (bad_signature)' } });
  });

  it('a body changed after signing → 401', async () => {
    const b = await body();
    const headers = signRequest({ key: s.env.GATEWAY_STS_HMAC_KEY, method: 'POST', path: PATH, body: b });
    expect((await send(b.replace('"GET"', '"PUT"'), headers)).body.error_description).toBe('gateway signature refused (bad_signature)');
  });

  it('a replayed nonce → 401', async () => {
    const b = await body();
    const headers = signRequest({ key: s.env.GATEWAY_STS_HMAC_KEY, method: 'POST', path: PATH, body: b });
    expect((await send(b, headers)).status).toBe(200);
    expect(await send(b, headers)).toEqual({ status: 401, body: { error: 'invalid_signature', error_description: 'gateway signature refused (nonce_replayed)' } });
  });

  it('clock skew beyond 60 s → 401, within it → accepted', async () => {
    // A timestamp ahead of the STS's clock shrinks by a second when the request crosses a second boundary on its way,
    // so the refused one ahead is 62 s (61 s or more on arrival); one behind only grows.
    for (const [offset, ok] of [[-61, false], [62, false], [-55, true], [55, true]] as const) {
      const b = await body();
      // The clock is read for each request: a slow machine must not shrink the skew between iterations.
      const now = Math.floor(Date.now() / 1000);
      const res = await send(b, signRequest({ key: s.env.GATEWAY_STS_HMAC_KEY, method: 'POST', path: PATH, body: b, nowSeconds: now + offset }));
      if (ok) expect(res.status, String(offset)).toBe(200);
      else expect(res, String(offset)).toEqual({ status: 401, body: { error: 'invalid_signature', error_description: 'gateway signature refused (clock_skew)' } });
    }
  });

  it('no signature at all → 401', async () => {
    expect((await send(await body(), {})).body.error_description).toBe('gateway signature refused (missing_signature)');
  });

  it('with an STS that takes the re-exchange and never answers, the gateway answers 503 and forwards nothing', async () => {
    // Keys are fetched from the real STS; the re-exchange reaches a listener that reads it and stays silent.
    const silent = http.createServer((req, res) => {
      if (req.url?.startsWith('/.well-known/')) return void fetch(`${s.sts.url}${req.url}`).then(async (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()));
      req.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as AddressInfo;
    await s.restartGateway({ CARACAL_STS_URL: `http://127.0.0.1:${port}`, STS_TIMEOUT_MS: '300' });
    try {
      const mandate = await s.mandate(p);
      const before = s.upstream.requests.length;
      const res = await fetch(`${s.gateway.url}/${p.resource.slice(11)}/x`, { headers: { authorization: `Bearer ${mandate}` } });
      expect(res.status).toBe(503);
      expect((await res.json()) as any).toEqual({ error: 'temporarily_unavailable', error_description: 'the STS is unavailable' });
      expect(s.upstream.requests.length).toBe(before);
    } finally {
      await s.restartGateway();
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
    // The restarted gateway holds the zone's keys again, as the next case expects.
    const again = await fetch(`${s.gateway.url}/${p.resource.slice(11)}/x`, { headers: { authorization: `Bearer ${await s.mandate(p)}` } });
    expect(again.status).toBe(200);
  });

  it('with the STS down, the gateway answers 503 and forwards nothing', async () => {
    const mandate = await s.mandate(p);
    const before = s.upstream.requests.length;
    await s.sts.runnable.app.close();
    const res = await fetch(`${s.gateway.url}/${p.resource.slice(11)}/x`, { headers: { authorization: `Bearer ${mandate}` } });
    expect(res.status).toBe(503);
    expect((await res.json()) as any).toEqual({ error: 'temporarily_unavailable', error_description: 'the STS is unavailable' });
    expect(s.upstream.requests.length).toBe(before);
  });
});
