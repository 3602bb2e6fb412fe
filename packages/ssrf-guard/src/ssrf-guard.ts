// SSRF guard for upstream targets: URL shape, blocked address ranges, and resolve- and connect-time checks (R-GW-3).
import { promises as dns } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export type ResolvedAddress = { address: string; family: number };

/** Name resolution, injected so the guard is testable and the same resolver serves preflight and connect. */
export type Resolve = (host: string) => Promise<ResolvedAddress[]>;

/** `blockPrivate` also refuses loopback, RFC 1918, CGNAT and ULA (off by default: the gateway fronts local upstreams). */
export type AddressPolicy = { blockPrivate?: boolean };

export interface SsrfPolicy extends AddressPolicy {
  /** When present, the only hosts an upstream URL may name (exact, case-insensitive); an empty list allows none. */
  allowHosts?: readonly string[];
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };
export type PreflightResult = { ok: true; addresses: string[] } | { ok: false; reason: string };

/** Raised (or passed to the lookup callback) when a target is refused; `code` is stable for callers to map. */
export class SsrfBlockedError extends Error {
  readonly code = 'CARACAL_SSRF_BLOCKED';
  constructor(readonly reason: string) {
    // The message names the rule, never the resolved address, so nothing internal reaches a response or log line.
    super(`upstream refused by SSRF guard: ${reason}`);
    this.name = 'SsrfBlockedError';
  }
}

type Rule = readonly [range: [ipaddr.IPv4 | ipaddr.IPv6, number], reason: string];
const rules = (list: ReadonlyArray<readonly [string, string]>): readonly Rule[] =>
  Object.freeze(list.map(([cidr, reason]) => Object.freeze([ipaddr.parseCIDR(cidr), reason] as const)));

// R-GW-3: never contacted, whatever the deployment. Metadata hosts come first so the reason is the precise one.
const V4_ALWAYS = rules([
  ['169.254.169.254/32', 'cloud metadata address'],
  ['100.100.100.200/32', 'cloud metadata address'],
  ['169.254.0.0/16', 'link-local address'],
  ['224.0.0.0/4', 'multicast address'],
  ['0.0.0.0/8', 'unspecified address'],
  ['255.255.255.255/32', 'broadcast address'],
]);
const V6_ALWAYS = rules([
  ['fd00:ec2::254/128', 'cloud metadata address'],
  ['::/128', 'unspecified address'],
  ['fe80::/10', 'link-local address'],
  ['ff00::/8', 'multicast address'],
]);
const V4_PRIVATE = rules([
  ['127.0.0.0/8', 'loopback address'],
  ['10.0.0.0/8', 'private address'],
  ['172.16.0.0/12', 'private address'],
  ['192.168.0.0/16', 'private address'],
  ['100.64.0.0/10', 'carrier-grade NAT address'],
]);
const V6_PRIVATE = rules([['::1/128', 'loopback address'], ['fc00::/7', 'unique local address']]);

// IPv6 forms that carry an IPv4 address the network may translate to; byte offsets per RFC 6052 §2.2 / RFC 3056.
const V6_EMBEDDINGS = Object.freeze(
  ([
    ['::ffff:0:0/96', 'IPv4-mapped IPv6', [[12, 13, 14, 15]]],
    ['::/96', 'IPv4-compatible IPv6', [[12, 13, 14, 15]]],
    ['64:ff9b::/96', 'NAT64', [[12, 13, 14, 15]]],
    // RFC 8215 local-use prefix: the operator picks the RFC 6052 prefix length, so every placement is checked.
    ['64:ff9b:1::/48', 'NAT64', [[6, 7, 9, 10], [7, 9, 10, 11], [9, 10, 11, 12], [12, 13, 14, 15]]],
    ['2002::/16', '6to4', [[2, 3, 4, 5]]],
  ] as const).map(([cidr, form, placements]) => ({ prefix: ipaddr.IPv6.parseCIDR(cidr), form, placements })),
);
const V6_LOOPBACK = ipaddr.IPv6.parseCIDR('::1/128');

function firstMatch(ip: ipaddr.IPv4 | ipaddr.IPv6, list: readonly Rule[]): string | undefined {
  for (const [range, reason] of list) {
    if (ip.kind() === range[0].kind() && ip.match(range)) return reason;
  }
  return undefined;
}

function checkV4(ip: ipaddr.IPv4, policy: AddressPolicy): string | undefined {
  return firstMatch(ip, V4_ALWAYS) ?? (policy.blockPrivate ? firstMatch(ip, V4_PRIVATE) : undefined);
}

function checkV6(ip: ipaddr.IPv6, policy: AddressPolicy): string | undefined {
  const direct = firstMatch(ip, V6_ALWAYS) ?? (policy.blockPrivate ? firstMatch(ip, V6_PRIVATE) : undefined);
  // ::1 is IPv6 loopback, not an IPv4-compatible 0.0.0.1; it was judged above.
  if (direct !== undefined || ip.match(V6_LOOPBACK)) return direct;
  const bytes = ip.toByteArray();
  for (const { prefix, form, placements } of V6_EMBEDDINGS) {
    if (!ip.match(prefix)) continue;
    const carried = placements.map((at) => new ipaddr.IPv4(at.map((i) => bytes[i] ?? 0)));
    // With several placements the zero padding of the wrong ones reads as 0.0.0.0/8; judge that only if it is all.
    const meaningful = carried.filter((c) => c.octets[0] !== 0);
    for (const c of meaningful.length > 0 ? meaningful : carried) {
      const inner = checkV4(c, policy);
      if (inner !== undefined) return `${inner} (embedded in ${form})`;
    }
  }
  return undefined;
}

/** R-GW-3: the reason an address must never be contacted, or undefined when it may be. Non-addresses are refused. */
export function isBlockedAddress(ip: string, policy: AddressPolicy = {}): string | undefined {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (!ipaddr.isValid(bare)) return 'not an IP address';
  const parsed = ipaddr.parse(bare);
  return parsed.kind() === 'ipv4' ? checkV4(parsed as ipaddr.IPv4, policy) : checkV6(parsed as ipaddr.IPv6, policy);
}

function normaliseHost(host: string): string {
  const lower = host.toLowerCase();
  const bare = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  return bare.endsWith('.') ? bare.slice(0, -1) : bare;
}

/** R-GW-3: scheme, userinfo, allowlist and literal-address checks on a configured upstream URL. */
export function checkUpstreamUrl(raw: string, opts: SsrfPolicy = {}): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'malformed URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'only http and https upstreams are allowed' };
  // Any `@` in the authority is refused, even an empty `http://@host` the parser would silently drop.
  const authority = /^\s*[a-z][a-z0-9+.-]*:[\\/]*([^/\\?#]*)/i.exec(raw)?.[1] ?? '';
  if (url.username !== '' || url.password !== '' || authority.includes('@')) return { ok: false, reason: 'userinfo is not allowed in upstream URLs' };
  // WHATWG parsing has already turned decimal, octal, hex and short IPv4 spellings into dotted quads.
  const host = normaliseHost(url.hostname);
  if (host === '') return { ok: false, reason: 'upstream URL has no host' };
  if (opts.allowHosts !== undefined && !opts.allowHosts.some((h) => normaliseHost(h) === host)) {
    return { ok: false, reason: 'upstream host is not in the allowlist' };
  }
  if (isIP(host) !== 0) {
    const blocked = isBlockedAddress(host, opts);
    if (blocked !== undefined) return { ok: false, reason: blocked };
  }
  return { ok: true, url };
}

const notFound = (message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code: 'ENOTFOUND' });

/** Resolves a host (literals without DNS) and throws SsrfBlockedError if ANY answer is blocked (R-GW-3). */
async function resolveChecked(host: string, resolve: Resolve, policy: AddressPolicy): Promise<ResolvedAddress[]> {
  const bare = normaliseHost(host);
  // Literals, including spellings only inet_aton understands, are judged as addresses, never handed to DNS.
  const literal = isIP(bare) !== 0 ? bare : ipaddr.isValid(bare) ? ipaddr.parse(bare).toString() : undefined;
  const answers = literal !== undefined ? [{ address: literal, family: isIP(literal) }] : await resolve(bare);
  if (answers.length === 0) throw notFound('upstream host resolved to no addresses');
  for (const { address } of answers) {
    const blocked = isBlockedAddress(address, policy);
    if (blocked !== undefined) throw new SsrfBlockedError(blocked);
  }
  return answers.map(({ address, family }) => ({ address, family }));
}

/** R-GW-3: the resolve-time check, run before any connection is opened. */
export async function preflightResolve(url: URL, resolve: Resolve, opts: AddressPolicy = {}): Promise<PreflightResult> {
  try {
    const answers = await resolveChecked(url.hostname, resolve, opts);
    return { ok: true, addresses: answers.map((a) => a.address) };
  } catch (err) {
    return { ok: false, reason: err instanceof SsrfBlockedError ? err.reason : 'upstream host could not be resolved' };
  }
}

/**
 * R-GW-3: a `dns.lookup`-shaped function for `http.request({ lookup })` or undici `connect: { lookup }`. It checks the
 * addresses the socket will actually use, so a name that re-resolves to a blocked address (DNS rebinding) is refused.
 */
export function guardedLookup(resolve: Resolve, opts: AddressPolicy = {}): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    const family = options?.family;
    const wanted = family === 4 || family === 'IPv4' ? 4 : family === 6 || family === 'IPv6' ? 6 : 0;
    const outcome = resolveChecked(hostname, resolve, opts).then(
      (all): { err: NodeJS.ErrnoException } | { answers: ResolvedAddress[] } => {
        const answers = all.filter((a) => wanted === 0 || a.family === wanted);
        return answers.length > 0 ? { answers } : { err: notFound('upstream host has no address of the requested family') };
      },
      (err: unknown) => ({ err: err instanceof Error ? (err as NodeJS.ErrnoException) : new Error(String(err)) }),
    );
    // The callback runs outside the promise chain so an exception it throws is not swallowed as a rejection.
    void outcome.then((r) =>
      process.nextTick(() => {
        if ('err' in r) return callback(r.err, '', 0);
        if (options?.all === true) return callback(null, r.answers as LookupAddress[]);
        const first = r.answers[0] as ResolvedAddress;
        return callback(null, first.address, first.family);
      }),
    );
  };
}

/** The production resolver: the system resolver, every answer, in the order it returned them. */
export const defaultResolve: Resolve = async (host) => {
  const answers = await dns.lookup(host, { all: true, verbatim: true });
  return answers.map(({ address, family }) => ({ address, family }));
};
