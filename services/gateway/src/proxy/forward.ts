// Sends the request upstream (R-GW-2..4): credential injected here, body streamed with a size cap, no redirects
// followed (the response is passed back as it is), SSRF re-checked at connect time through `lookup`.
import type { IncomingHttpHeaders } from 'node:http';
import type { LookupFunction } from 'node:net';
import { type Readable, Transform } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { DenyReason } from '@caracal/deny-reasons';
import type { OutgoingHeaders } from './headers.js';

/** Each failure is a named deny reason of the shared registry, which fixes its status. */
export type ForwardFailure = Extract<DenyReason, 'upstream_timeout' | 'upstream_failed' | 'upstream_blocked' | 'request_too_large'>;

export class ForwardError extends Error {
  constructor(readonly failure: ForwardFailure, message: string) {
    super(message);
  }
}

export interface ForwardInput {
  base: URL;
  /** The checked path (with its query) after the resource prefix; starts with `/`. */
  path: string;
  method: string;
  headers: OutgoingHeaders;
  placement: { in: 'header' | 'query'; name: string; value: string } | null;
  body: Readable | null;
  bodyLimit: number;
  /** Bounds the wait for the answer's head once the request is sent, and each pause in the answer's body. */
  timeoutMs: number;
  /** Built by `upstreamAgent`: its connections resolve names through the SSRF guard. */
  dispatcher: Dispatcher;
}

/** What the upstream answered: the body streams, and the caller consumes or destroys it. */
export interface UpstreamAnswer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Readable;
}

/**
 * The pool of kept-alive upstream connections. Every new connection resolves its host through `lookup` (the SSRF
 * guard), so an address is checked when the socket is opened, not only when the URL was configured.
 */
export function upstreamAgent(lookup: LookupFunction, connectTimeoutMs: number): Agent {
  return new Agent({ connections: 256, connect: { lookup, timeout: connectTimeoutMs } });
}

/**
 * The request target on the upstream (path and query, from `/`). Base path and path are joined as strings:
 * `new URL(path, base)` would let a path escape the base, and parsing the result again could re-encode it.
 */
function targetPath(base: URL, path: string, placement: ForwardInput['placement']): string {
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  let [p, q] = [path, ''];
  const qi = path.indexOf('?');
  if (qi >= 0) [p, q] = [path.slice(0, qi), path.slice(qi + 1)];
  if (placement?.in === 'query') {
    // The caller may not smuggle its own value for the credential's parameter.
    const kept = q.split('&').filter((kv) => kv !== '' && decodeURIComponent(kv.split('=')[0]!.replace(/\+/g, ' ')) !== placement.name);
    kept.push(`${encodeURIComponent(placement.name)}=${encodeURIComponent(placement.value)}`);
    q = kept.join('&');
  }
  return `${prefix}${p}${q ? `?${q}` : ''}`;
}

/** Counts bytes through a stream and fails it when the count passes `limit`. */
export function byteLimit(limit: number, onExceed: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > limit) cb(onExceed());
      else cb(null, chunk);
    },
  });
}

/** Methods that may be sent again when a connection closes with no answer (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The connection closed or was reset under the request before any answer came. */
const CLOSED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);

function failure(err: unknown, timeoutMs: number): ForwardError {
  if (err instanceof ForwardError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'CARACAL_SSRF_BLOCKED') return new ForwardError('upstream_blocked', (err as Error).message);
  if (code !== undefined && TIMEOUTS.has(code)) return new ForwardError('upstream_timeout', `no answer from upstream within ${timeoutMs} ms`);
  return new ForwardError('upstream_failed', `upstream connection failed (${code ?? 'error'})`);
}

/**
 * An upstream may close an idle kept-alive connection just as the gateway reuses it: the request then fails with
 * no answer. A request whose connection closes before any answer is sent once more, on a new connection, when
 * nothing of it can be lost or doubled by that: an idempotent method without a body. Any other failure, or a
 * second one, is the caller's 502 or 504.
 */
export async function forward(i: ForwardInput): Promise<UpstreamAnswer> {
  const path = targetPath(i.base, i.path, i.placement);
  let headers = i.headers;
  if (i.placement?.in === 'header') {
    // Object.assign: V8 builds `{ ...headers, [name]: value }` many times slower, on every request.
    headers = Object.assign({}, i.headers, { [i.placement.name.toLowerCase()]: i.placement.value });
  }
  const again = i.body === null && IDEMPOTENT.has(i.method.toUpperCase());
  for (let attempt = 1; ; attempt++) {
    let body: Transform | null = null;
    if (i.body !== null) {
      const limited = byteLimit(i.bodyLimit, () => new ForwardError('request_too_large', 'request body too large'));
      // A caller that goes away mid-body fails the upstream request instead of leaving it waiting. The caller's
      // stream itself is left alone: destroying it would reset the connection before the caller hears why.
      const source = i.body;
      // undici takes the error for the request it sends; this listener keeps a late one from escaping the process.
      limited.on('error', () => undefined);
      source.once('close', () => void (source.readableEnded || limited.destroy(new Error('the caller went away'))));
      body = source.pipe(limited);
    }
    try {
      const res = await i.dispatcher.request({
        origin: i.base.origin,
        path,
        method: i.method as Dispatcher.HttpMethod,
        headers,
        body,
        headersTimeout: i.timeoutMs,
        bodyTimeout: i.timeoutMs,
      });
      return { statusCode: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!(again && attempt === 1 && code !== undefined && CLOSED.has(code))) throw failure(err, i.timeoutMs);
    }
  }
}
