// A kept-alive upstream connection closed just as the gateway reuses it (real sockets on loopback): an idempotent
// request without a body is sent once more on a new connection; a request with a body is not, and fails as 502.
// A caller whose body stops short fails its upstream request too.
import http from 'node:http';
import { lookup } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward, ForwardError, upstreamAgent, type ForwardInput } from '../../src/proxy/forward.js';

let server: http.Server;
let base: URL;
let seen: Array<{ method: string; socketRequest: number }> = [];
/** Requests whose connection closed before their body was complete. */
let cutShort = 0;
const dispatcher = upstreamAgent(lookup, 5000);

beforeAll(async () => {
  // Answers the first request on each connection; the second one on a connection gets it closed with no answer.
  server = http.createServer((req, res) => {
    const sock = req.socket as typeof req.socket & { served?: number };
    sock.served = (sock.served ?? 0) + 1;
    seen.push({ method: req.method!, socketRequest: sock.served });
    req.on('close', () => void (req.complete || cutShort++));
    if (sock.served > 1) return void req.socket.destroy();
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
});
afterAll(async () => {
  await dispatcher.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const input = (method: string, body: string | null): ForwardInput => ({
  base,
  path: '/x',
  method,
  headers: {},
  placement: null,
  body: body === null ? null : Readable.from([Buffer.from(body)]),
  bodyLimit: 1024,
  timeoutMs: 5000,
  dispatcher,
});

/** Closes the connections the agent keeps, so the next request opens a new one. */
async function freshConnections() {
  server.closeIdleConnections();
  await new Promise((r) => setTimeout(r, 50));
  seen = [];
}

async function call(method: string, body: string | null) {
  const res = await forward(input(method, body));
  let text = '';
  for await (const chunk of res.body) text += String(chunk);
  // The pool checks an idle connection once before it lends it again; a request sent before that opens a new one.
  await new Promise((r) => setTimeout(r, 20));
  return { status: res.statusCode, text };
}

describe('a kept-alive upstream connection closed as it is reused', () => {
  it('a GET is sent again on a new connection and answered', async () => {
    await freshConnections();
    expect(await call('GET', null)).toEqual({ status: 200, text: 'ok' });
    // The second GET reuses the kept-alive connection, which the upstream closes unanswered; the retry opens a new one.
    expect(await call('GET', null)).toEqual({ status: 200, text: 'ok' });
    expect(seen).toEqual([
      { method: 'GET', socketRequest: 1 },
      { method: 'GET', socketRequest: 2 },
      { method: 'GET', socketRequest: 1 },
    ]);
  });

  it('a POST with a body is not sent twice: the caller gets upstream_failed', async () => {
    await freshConnections();
    expect(await call('POST', 'first')).toEqual({ status: 200, text: 'ok' });
    const err = await forward(input('POST', 'second')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForwardError);
    expect((err as ForwardError).failure).toBe('upstream_failed');
    expect(seen.map((s) => s.method)).toEqual(['POST', 'POST']);
  });
});

describe('a caller that goes away in the middle of its body', () => {
  it('fails the upstream request at once instead of leaving the upstream waiting for the rest', async () => {
    await freshConnections();
    cutShort = 0;
    const body = new PassThrough();
    const sent = forward({ ...input('POST', null), body, headers: { 'content-length': '100' } });
    body.write('only part of it');
    // The upstream has the request and part of its body before the caller's stream closes unfinished.
    await expect.poll(() => seen.length).toBe(1);
    body.destroy();
    const err = await sent.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForwardError);
    expect((err as ForwardError).failure).toBe('upstream_failed');
    await expect.poll(() => cutShort).toBe(1);
  });
});
