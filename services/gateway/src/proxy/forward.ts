// Sends the request upstream (R-GW-2..4): credential injected here, body streamed with a size cap, no redirects
// followed (the response is passed back as it is), SSRF re-checked at connect time through `lookup`.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Transform } from 'node:stream';
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
  body: NodeJS.ReadableStream | null;
  bodyLimit: number;
  timeoutMs: number;
  lookup: LookupFunction;
}

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 256 }), https: new https.Agent({ keepAlive: true, maxSockets: 256 }) };

/** Joins base and path as strings: `new URL(path, base)` would let a path escape the base. */
export function targetUrl(base: URL, path: string, placement: ForwardInput['placement']): string {
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
  return `${base.origin}${prefix}${p}${q ? `?${q}` : ''}`;
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

/** Methods that may be sent again when a kept-alive connection turns out to be closed (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * An upstream may close an idle kept-alive connection just as the gateway reuses it: the request then fails with
 * no answer. Such a request is sent once more, on a new connection, when nothing of it can be lost or doubled by
 * that: an idempotent method without a body. Any other failure, or a second one, is the caller's 502.
 */
function retriable(req: http.ClientRequest, err: NodeJS.ErrnoException, i: ForwardInput): boolean {
  return req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && i.body === null && IDEMPOTENT.has(i.method.toUpperCase());
}

export function forward(i: ForwardInput): Promise<IncomingMessage> {
  const url = targetUrl(i.base, i.path, i.placement);
  // Object.assign: V8 builds `{ ...headers, host }` many times slower, on every request.
  const headers: OutgoingHeaders = Object.assign({}, i.headers, { host: i.base.host });
  if (i.placement?.in === 'header') headers[i.placement.name.toLowerCase()] = i.placement.value;
  const isHttps = i.base.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const send = (again: boolean) => {
      const req = (isHttps ? https : http).request(url, { method: i.method, headers, lookup: i.lookup, agent: isHttps ? agents.https : agents.http });
      let settled = false;
      const fail = (err: ForwardError) => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(err);
      };
      req.setTimeout(i.timeoutMs, () => fail(new ForwardError('upstream_timeout', `no answer from upstream within ${i.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        if (err.code === 'CARACAL_SSRF_BLOCKED') fail(new ForwardError('upstream_blocked', err.message));
        else if (!again && retriable(req, err, i)) {
          settled = true;
          send(true);
        } else fail(new ForwardError('upstream_failed', `upstream connection failed (${err.code ?? 'error'})`));
      });
      req.on('response', (res) => {
        if (settled) return void res.resume();
        settled = true;
        res.socket?.setTimeout(i.timeoutMs);
        resolve(res);
      });
      if (!i.body) return void req.end();
      const limiter = byteLimit(i.bodyLimit, () => new ForwardError('request_too_large', 'request body too large'));
      limiter.on('error', (err) => fail(err as ForwardError));
      i.body.pipe(limiter).pipe(req);
    };
    send(false);
  });
}
