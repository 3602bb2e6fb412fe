// SSRF guard (R-GW-3): every spelling of a blocked target is refused at URL, resolve or connect time.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Agent, request as undiciRequest } from 'undici';
import {
  checkUpstreamUrl,
  guardedLookup,
  isBlockedAddress,
  preflightResolve,
  type AddressPolicy,
  type Resolve,
  type ResolvedAddress,
} from '../../src/ssrf-guard.js';

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

/** A fake resolver over a fixed table; unknown names fail like getaddrinfo does. */
function fakeResolver(table: Record<string, ResolvedAddress[]>): Resolve {
  return async (host) => {
    const answers = table[host];
    if (answers === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answers;
  };
}

const DNS = fakeResolver({
  'metadata.google.internal': [v4('169.254.169.254')],
  'instance-data.ec2.internal': [v6('fd00:ec2::254')],
  'alibaba.meta': [v4('100.100.100.200')],
  'multi.example': [v4('93.184.216.34'), v4('169.254.169.254')],
  'multi6.example': [v6('2606:2800:220:1::1'), v6('fe80::abcd')],
  'mapped.example': [v6('::ffff:169.254.169.254')],
  'nat64.example': [v6('64:ff9b::a9fe:a9fe')],
  'mcast.example': [v4('239.255.255.250')],
  'zero.example': [v4('0.0.0.0')],
  'empty.example': [],
  'example.com': [v4('93.184.216.34'), v6('2606:2800:220:1:248:1893:25c8:1946')],
  localhost: [v4('127.0.0.1'), v6('::1')],
});

/** Runs the URL check, then the resolve-time check; returns the refusal reason or undefined when allowed. */
async function refusal(raw: string, policy: AddressPolicy = {}, resolve: Resolve = DNS): Promise<string | undefined> {
  const checked = checkUpstreamUrl(raw, policy);
  if (!checked.ok) return checked.reason;
  const pre = await preflightResolve(checked.url, resolve, policy);
  return pre.ok ? undefined : pre.reason;
}

// [spelling, expected reason fragment]
const BLOCKED: ReadonlyArray<readonly [string, RegExp]> = [
  ['http://169.254.169.254/latest/meta-data/', /cloud metadata/],
  ['http://2852039166/', /cloud metadata/],
  ['http://0251.0376.0251.0376/', /cloud metadata/],
  ['http://025177524776/', /cloud metadata/],
  ['http://0xa9.0xfe.0xa9.0xfe/', /cloud metadata/],
  ['http://0xa9fea9fe/', /cloud metadata/],
  ['http://0xA9FEA9FE/', /cloud metadata/],
  ['http://169.254.43518/', /cloud metadata/],
  ['http://169.16689662/', /cloud metadata/],
  ['http://169.0xfe.43518/', /cloud metadata/],
  ['http://0xa9.0376.0xa9fe/', /cloud metadata/],
  ['http://169.254.169.254.:80/', /cloud metadata/],
  ['http://%31%36%39.254.169.254/', /cloud metadata/],
  ['http://①⑥⑨.②⑤④.①⑥⑨.②⑤④/', /cloud metadata/],
  ['http://169。254。169。254/', /cloud metadata/],
  ['HTTP://169.254.169.254/', /cloud metadata/],
  ['http:\\\\169.254.169.254\\x', /cloud metadata/],
  ['http://[::ffff:169.254.169.254]/', /cloud metadata address \(embedded in IPv4-mapped IPv6\)/],
  ['http://[::ffff:a9fe:a9fe]/', /cloud metadata address \(embedded in IPv4-mapped IPv6\)/],
  ['http://[0:0:0:0:0:ffff:a9fe:a9fe]/', /cloud metadata address \(embedded in IPv4-mapped IPv6\)/],
  ['http://[::169.254.169.254]/', /cloud metadata address \(embedded in IPv4-compatible IPv6\)/],
  ['http://[64:ff9b::a9fe:a9fe]/', /cloud metadata address \(embedded in NAT64\)/],
  ['http://[64:ff9b::169.254.169.254]/', /cloud metadata address \(embedded in NAT64\)/],
  ['http://[64:ff9b:1::a9fe:a9fe]/', /cloud metadata address \(embedded in NAT64\)/],
  ['http://[64:ff9b:1:a9fe:a9:fe00::]/', /cloud metadata address \(embedded in NAT64\)/],
  ['http://[2002:a9fe:a9fe::1]/', /cloud metadata address \(embedded in 6to4\)/],
  ['http://[fd00:ec2::254]/', /cloud metadata/],
  ['http://100.100.100.200/', /cloud metadata/],
  ['http://169.254.0.1/', /link-local/],
  ['http://[fe80::1]/', /link-local/],
  ['http://[febf:ffff::1]/', /link-local/],
  ['http://[fe80::1%25eth0]/', /malformed URL/],
  ['http://[::]/', /unspecified/],
  ['http://0/', /unspecified/],
  ['http://0.0.0.0/', /unspecified/],
  ['http://0.1.2.3/', /unspecified/],
  ['http://[::ffff:0.0.0.0]/', /unspecified address \(embedded/],
  ['http://224.0.0.1/', /multicast/],
  ['http://239.255.255.250/', /multicast/],
  ['http://[ff02::1]/', /multicast/],
  ['http://[::ffff:224.0.0.1]/', /multicast address \(embedded/],
  ['http://255.255.255.255/', /broadcast/],
  ['http://[2002:ffff:ffff::]/', /broadcast address \(embedded in 6to4\)/],
  ['http://[2002::]/', /unspecified address \(embedded in 6to4\)/],
  ['http://[64:ff9b:1::]/', /unspecified address \(embedded in NAT64\)/],
  ['http://metadata.google.internal/computeMetadata/v1/', /cloud metadata/],
  ['http://METADATA.google.internal./', /cloud metadata/],
  ['http://instance-data.ec2.internal/', /cloud metadata/],
  ['http://alibaba.meta/', /cloud metadata/],
  ['http://multi.example/', /cloud metadata/],
  ['http://multi6.example/', /link-local/],
  ['http://mapped.example/', /embedded in IPv4-mapped IPv6/],
  ['http://nat64.example/', /embedded in NAT64/],
  ['http://mcast.example/', /multicast/],
  ['http://zero.example/', /unspecified/],
  ['http://empty.example/', /could not be resolved/],
  ['http://no-such-host.example/', /could not be resolved/],
  ['http://user:pass@example.com/', /userinfo/],
  ['http://user@example.com/', /userinfo/],
  ['http://example.com@169.254.169.254/', /userinfo/],
  ['http://@example.com/', /userinfo/],
  ['http://:@example.com/', /userinfo/],
  ['file:///etc/passwd', /only http and https/],
  ['gopher://127.0.0.1:6379/_INFO', /only http and https/],
  ['ftp://example.com/', /only http and https/],
  ['data:text/plain,hello', /only http and https/],
  ['javascript:alert(1)', /only http and https/],
  ['ws://example.com/', /only http and https/],
  ['not a url', /malformed URL/],
];

describe('blocked targets (R-GW-3)', () => {
  it('lists at least 35 spellings', () => {
    expect(BLOCKED.length).toBeGreaterThanOrEqual(35);
  });

  it.each(BLOCKED)('refuses %s', async (raw, reason) => {
    expect(await refusal(raw)).toMatch(reason);
  });
});

describe('allowed targets', () => {
  it.each([
    'http://93.184.216.34/',
    'https://example.com/v1/items?x=1',
    'http://127.0.0.1:8080/',
    'http://localhost:3000/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://10.0.0.5/',
    'http://[2606:4700::1111]/',
    'http://[2002:5db8:d822::1]/',
    'http://[64:ff9b::808:808]/',
    'http://[64:ff9b:1::808:808]/',
    'http://[64:ff9b:1:808:8:800::]/',
  ])('allows %s by default', async (raw) => {
    expect(await refusal(raw)).toBeUndefined();
  });

  it('returns every resolved address from the preflight', async () => {
    expect(await preflightResolve(new URL('https://example.com/'), DNS)).toEqual({
      ok: true,
      addresses: ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    });
  });

  it('returns the parsed URL unchanged', () => {
    const r = checkUpstreamUrl('https://api.example.com:8443/base?q=1', {});
    expect(r.ok && r.url.href).toBe('https://api.example.com:8443/base?q=1');
  });
});

describe('host allowlist', () => {
  const allowHosts = ['API.Example.com.', '[::1]'];

  it.each(['https://api.example.com/', 'https://API.EXAMPLE.COM./x', 'http://[::1]:9/'])('allows %s', (raw) => {
    expect(checkUpstreamUrl(raw, { allowHosts }).ok).toBe(true);
  });

  it.each(['https://example.com/', 'https://api.example.com.evil.net/', 'https://evil.net/api.example.com', 'http://127.0.0.1/'])(
    'refuses %s',
    (raw) => {
      expect(checkUpstreamUrl(raw, { allowHosts })).toEqual({ ok: false, reason: 'upstream host is not in the allowlist' });
    },
  );

  it('an empty allowlist allows nothing', () => {
    expect(checkUpstreamUrl('https://example.com/', { allowHosts: [] }).ok).toBe(false);
  });

  it('still refuses a blocked literal that is allowlisted', () => {
    expect(checkUpstreamUrl('http://169.254.169.254/', { allowHosts: ['169.254.169.254'] })).toEqual({ ok: false, reason: 'cloud metadata address' });
  });
});

describe('blockPrivate', () => {
  const strict = { blockPrivate: true };

  it.each([
    ['127.0.0.1', /loopback/],
    ['127.255.0.9', /loopback/],
    ['::1', /loopback/],
    ['10.1.2.3', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.255', /carrier-grade NAT/],
    ['fc00::1', /unique local/],
    ['fd12:3456::1', /unique local/],
    ['::ffff:10.0.0.1', /private address \(embedded in IPv4-mapped IPv6\)/],
    ['::ffff:7f00:1', /loopback address \(embedded in IPv4-mapped IPv6\)/],
    ['64:ff9b::a00:1', /private address \(embedded in NAT64\)/],
    ['2002:c0a8:101::', /private address \(embedded in 6to4\)/],
  ])('refuses %s', (ip, reason) => {
    expect(isBlockedAddress(ip, strict)).toMatch(reason);
    expect(isBlockedAddress(ip)).toBeUndefined();
  });

  it.each(['172.32.0.1', '100.128.0.1', '8.8.8.8', '192.169.0.1', 'fe00::1'])('still allows public %s', (ip) => {
    expect(isBlockedAddress(ip, strict)).toBeUndefined();
  });

  it('applies at URL and resolve time', async () => {
    expect(await refusal('http://127.0.0.1/', strict)).toMatch(/loopback/);
    expect(await refusal('http://localhost/', strict)).toMatch(/loopback/);
    expect(await refusal('http://example.com/', strict)).toBeUndefined();
  });
});

describe('isBlockedAddress', () => {
  it.each(['', 'example.com', '1.2.3.4.5', '::g', '169.254.169.254/32'])('refuses non-address %j', (s) => {
    expect(isBlockedAddress(s)).toBe('not an IP address');
  });

  it('judges zoned, bracketed and inet_aton spellings', () => {
    expect(isBlockedAddress('fe80::1%eth0')).toBe('link-local address');
    expect(isBlockedAddress('[fe80::1]')).toBe('link-local address');
    expect(isBlockedAddress('0xa9fea9fe')).toBe('cloud metadata address');
  });
});

/** Calls a lookup function and resolves with what its callback received. */
function callLookup(lookup: ReturnType<typeof guardedLookup>, host: string, options: { all?: boolean; family?: number } = {}) {
  return new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }>((done) => {
    lookup(host, options, (err, address, family) => done({ err, address, family }));
  });
}

describe('guardedLookup (connect-time check)', () => {
  it('returns the first allowed address when all is false', async () => {
    expect(await callLookup(guardedLookup(DNS), 'example.com')).toEqual({ err: null, address: '93.184.216.34', family: 4 });
  });

  it('returns every address when all is true', async () => {
    const r = await callLookup(guardedLookup(DNS), 'example.com', { all: true });
    expect(r.err).toBeNull();
    expect(r.address).toEqual([v4('93.184.216.34'), v6('2606:2800:220:1:248:1893:25c8:1946')]);
  });

  it('honours a requested family', async () => {
    const r = await callLookup(guardedLookup(DNS), 'example.com', { family: 6 });
    expect(r).toEqual({ err: null, address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 });
  });

  it.each([false, true])('refuses when any address is blocked (all=%s), naming the rule but not the address', async (all) => {
    const r = await callLookup(guardedLookup(DNS), 'multi.example', { all });
    expect(r.err?.code).toBe('CARACAL_SSRF_BLOCKED');
    expect(r.err?.message).toBe('upstream refused by SSRF guard: cloud metadata address');
    expect(r.err?.message).not.toContain('169.254');
  });

  it('checks IP literals without asking DNS', async () => {
    const resolve = vi.fn(DNS);
    expect((await callLookup(guardedLookup(resolve), '169.254.169.254')).err?.code).toBe('CARACAL_SSRF_BLOCKED');
    expect((await callLookup(guardedLookup(resolve), '0xa9fea9fe')).err?.code).toBe('CARACAL_SSRF_BLOCKED');
    expect((await callLookup(guardedLookup(resolve), '[::ffff:a9fe:a9fe]')).err?.code).toBe('CARACAL_SSRF_BLOCKED');
    expect(await callLookup(guardedLookup(resolve), '93.184.216.34', { all: true })).toMatchObject({ err: null, address: [v4('93.184.216.34')] });
    expect(resolve).not.toHaveBeenCalled();
  });

  it('applies blockPrivate', async () => {
    expect((await callLookup(guardedLookup(DNS, { blockPrivate: true }), 'localhost')).err?.code).toBe('CARACAL_SSRF_BLOCKED');
  });

  it('passes resolver failures through and fails closed on empty answers', async () => {
    expect((await callLookup(guardedLookup(DNS), 'no-such-host.example')).err?.code).toBe('ENOTFOUND');
    expect((await callLookup(guardedLookup(DNS), 'empty.example')).err?.code).toBe('ENOTFOUND');
    expect((await callLookup(guardedLookup(DNS), 'example.com', { family: 6, all: true })).err).toBeNull();
    const v4only = fakeResolver({ 'a.example': [v4('93.184.216.34')] });
    expect((await callLookup(guardedLookup(v4only), 'a.example', { family: 6 })).err?.code).toBe('ENOTFOUND');
  });

  it('catches DNS rebinding: the preflight passes, the connect-time answer is refused', async () => {
    const answers = [[v4('93.184.216.34')], [v4('169.254.169.254')]];
    const rebind: Resolve = async () => answers.shift() ?? [];
    const url = new URL('http://rebind.example/');
    expect(await preflightResolve(url, rebind)).toEqual({ ok: true, addresses: ['93.184.216.34'] });
    const r = await callLookup(guardedLookup(rebind), 'rebind.example');
    expect(r.err?.code).toBe('CARACAL_SSRF_BLOCKED');
  });
});

describe('guardedLookup on real sockets', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((done) => server?.close(done) ?? done(undefined));
    server = undefined;
  });

  async function listen(): Promise<{ port: number; connections: () => number }> {
    let count = 0;
    server = createServer((_req, res) => res.end('ok'));
    server.on('connection', () => (count += 1));
    await new Promise<void>((done) => server?.listen(0, '127.0.0.1', done));
    return { port: (server.address() as AddressInfo).port, connections: () => count };
  }

  const resolve = fakeResolver({ 'metadata.test': [v4('169.254.169.254')], 'upstream.test': [v4('127.0.0.1')] });

  function get(url: string): Promise<{ status?: number; code?: string }> {
    return new Promise((done) => {
      const req = request(url, { lookup: guardedLookup(resolve) }, (res) => {
        res.resume();
        res.on('end', () => done({ status: res.statusCode }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => done({ code: err.code }));
      req.end();
    });
  }

  it('node:http refuses a name resolving to a blocked address before any connection', async () => {
    const { port, connections } = await listen();
    expect(await get(`http://metadata.test:${port}/`)).toEqual({ code: 'CARACAL_SSRF_BLOCKED' });
    expect(connections()).toBe(0);
  });

  it('node:http connects to a name resolving to loopback', async () => {
    const { port, connections } = await listen();
    expect(await get(`http://upstream.test:${port}/`)).toEqual({ status: 200 });
    expect(connections()).toBe(1);
  });

  it('undici honours the same lookup', async () => {
    const { port, connections } = await listen();
    const dispatcher = new Agent({ connect: { lookup: guardedLookup(resolve) } });
    try {
      const ok = await undiciRequest(`http://upstream.test:${port}/`, { dispatcher });
      expect(await ok.body.text()).toBe('ok');
      const refused = undiciRequest(`http://metadata.test:${port}/`, { dispatcher });
      await expect(refused).rejects.toMatchObject({ code: 'CARACAL_SSRF_BLOCKED' });
      expect(connections()).toBe(1);
    } finally {
      await dispatcher.close();
    }
  });
});
