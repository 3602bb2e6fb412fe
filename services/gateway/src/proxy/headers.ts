// Request and response header rewriting between caller and upstream: hop-by-hop, identity and tracing (R-GW-4).
import { randomHex } from '@caracal/internal-auth';
import type { IncomingHttpHeaders } from 'node:http';

export type OutgoingHeaders = Record<string, string | string[]>;

/** Random hex source, injected so tests can pin generated ids. */
export type RandomHex = (bytes: number) => string;

export interface ForwardContext {
  requestId: string;
  /** A traceparent the gateway already chose (e.g. from nextTraceparent); used verbatim. Must be valid. */
  traceparent?: string;
}

// RFC 9110 §7.6.1 and the de-facto set (proxy-connection, keep-alive): they describe one connection, never the next.
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // RFC 9113 §3.2.1: the HTTP/2 upgrade settings are connection-specific too.
  'http2-settings',
]);

// R-GW-4: the caller's identity and routing claims are the gateway's to set, never the caller's to forward.
const CALLER_ONLY: ReadonlySet<string> = new Set([
  'authorization',
  'forwarded',
  'x-real-ip',
  'host',
  // The gateway answers `Expect: 100-continue` itself; forwarding it would repeat a per-hop handshake.
  'expect',
]);
const CALLER_ONLY_PREFIXES: readonly string[] = ['x-caracal-', 'x-forwarded-'];

// R-GW-4: responses do not advertise the upstream's software.
const UPSTREAM_ONLY: ReadonlySet<string> = new Set(['server', 'x-powered-by']);

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** W3C Trace Context §3.2: version 00, lowercase hex, trace-id and parent-id not all zeros. */
export function parseTraceparent(value: unknown): { traceId: string; parentId: string; flags: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value);
  if (m === null) return undefined;
  const [, traceId = '', parentId = '', flags = ''] = m;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, flags };
}

function nonZeroHex(random: RandomHex, bytes: number): string {
  const hex = random(bytes).toLowerCase().padStart(bytes * 2, '0').slice(-bytes * 2);
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

/**
 * The traceparent to send upstream: the caller's trace continued under a new parent-id (this hop), or a fresh trace
 * when the caller sent none or an invalid one. `continued` says whether the caller's tracestate still applies.
 */
export function nextTraceparent(incoming: unknown, random: RandomHex = randomHex): { traceparent: string; continued: boolean } {
  const caller = parseTraceparent(incoming);
  const parentId = nonZeroHex(random, 8);
  if (caller !== undefined) return { traceparent: `00-${caller.traceId}-${parentId}-${caller.flags}`, continued: true };
  return { traceparent: `00-${nonZeroHex(random, 16)}-${parentId}-01`, continued: false };
}

/** Lowercased header names listed in the Connection header(s); each is hop-by-hop for this message (RFC 9110 §7.6.1). */
function connectionNamed(headers: IncomingHttpHeaders): Set<string> {
  const named = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'connection' || value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      for (const token of String(item).split(',')) {
        const t = token.trim().toLowerCase();
        if (t !== '') named.add(t);
      }
    }
  }
  return named;
}

/** A copy with lowercased names, minus hop-by-hop, Connection-named, pseudo-headers and whatever `drop` refuses. */
function copyWithout(headers: IncomingHttpHeaders, drop: (name: string) => boolean): OutgoingHeaders {
  const named = connectionNamed(headers);
  const out: OutgoingHeaders = {};
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    // HTTP/2 pseudo-headers (`:path`, `:authority`) are rebuilt by the client for the upstream request.
    if (name.startsWith(':') || HOP_BY_HOP.has(name) || named.has(name) || drop(name)) continue;
    const prior = out[name];
    // Two spellings of one name in a plain object are merged, not silently overwritten.
    if (prior === undefined) out[name] = Array.isArray(value) ? [...value] : value;
    else out[name] = [prior, value].flat();
  }
  return out;
}

/**
 * R-GW-4: headers to send upstream. The caller's credentials and routing claims are removed, `x-request-id` and
 * `traceparent` are set by the gateway, and `tracestate` survives only when the caller's trace is continued.
 */
export function forwardRequestHeaders(
  incoming: IncomingHttpHeaders,
  ctx: ForwardContext,
  random: RandomHex = randomHex,
): OutgoingHeaders {
  const out = copyWithout(
    incoming,
    (name) => CALLER_ONLY.has(name) || CALLER_ONLY_PREFIXES.some((p) => name.startsWith(p)),
  );
  const callerTrace = parseTraceparent(out['traceparent']);
  let traceparent: string;
  let continued: boolean;
  if (ctx.traceparent !== undefined) {
    const chosen = parseTraceparent(ctx.traceparent);
    // A malformed value here is a wiring bug in the gateway; refusing beats sending an unusable trace upstream.
    if (chosen === undefined) throw new TypeError('forwardRequestHeaders: ctx.traceparent is not a valid W3C traceparent');
    traceparent = ctx.traceparent;
    continued = callerTrace !== undefined && callerTrace.traceId === chosen.traceId;
  } else {
    ({ traceparent, continued } = nextTraceparent(out['traceparent'], random));
  }
  if (!continued) delete out['tracestate'];
  out['traceparent'] = traceparent;
  out['x-request-id'] = ctx.requestId;
  return out;
}

/** R-GW-4: headers to return to the caller from an upstream response. */
export function filterResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHeaders {
  return copyWithout(upstream, (name) => UPSTREAM_ONLY.has(name));
}
