import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe } from '../../src/stack/probe.js';
import { freePort } from '../../../../test-support/deps.js';

// A real HTTP server answering the way a service (or something that is not one) may.
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    switch (req.url) {
      case '/ready':
        return void res.writeHead(503, { 'content-type': 'application/problem+json' }).end('{"reason":"revocation_snapshot_stale"}');
      case '/health':
        return void res.writeHead(500).end('<html>oops</html>');
      default:
        return void res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('probe', () => {
  it('a 200 is ready', async () => {
    const ok = createServer((_req, res) => res.writeHead(200).end('{}'));
    await new Promise<void>((r) => ok.listen(0, '127.0.0.1', r));
    try {
      const r = await probe('api', `http://127.0.0.1:${(ok.address() as AddressInfo).port}`, '/ready');
      expect(r).toMatchObject({ service: 'api', ok: true, status: 200, reason: null });
    } finally {
      await new Promise<void>((r) => ok.close(() => r()));
    }
  });

  it('a 503 gives the reason the service named', async () => {
    expect(await probe('gateway', base, '/ready')).toMatchObject({ ok: false, status: 503, reason: 'revocation_snapshot_stale' });
  });

  it('a body that is not JSON is an unexpected response', async () => {
    expect(await probe('api', base, '/health')).toMatchObject({ ok: false, status: 500, reason: 'unexpected_response' });
  });

  it('a closed port is not listening', async () => {
    const port = await freePort();
    expect(await probe('sts', `http://127.0.0.1:${port}`, '/ready')).toMatchObject({ ok: false, status: null, reason: 'not_listening' });
  });

  it('a server that never answers times out within the bound', async () => {
    const silent = createServer(() => undefined); // accepts, reads, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const r = await probe('audit', `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, '/ready', 200);
      expect(r).toMatchObject({ ok: false, status: null, reason: 'timeout' });
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
