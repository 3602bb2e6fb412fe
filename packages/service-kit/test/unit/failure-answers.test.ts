// Driver failures classified once (§15): Postgres data errors are 400/409 naming the column, outages of Postgres
// or Redis are 503 temporarily_unavailable, anything else a 500; Node's own parser refusals (400, 431) get
// RFC-shaped JSON bodies. The driver errors are built with the fields pg and ioredis set (no server is needed to
// shape them); the api's integration suites drive the same paths against real servers.
import { connect, type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '@caracal/logging';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServiceApp } from '../../src/build-service-app.js';
import { createMetrics } from '../../src/metrics.js';

let app: FastifyInstance;

function build(failure: () => unknown): FastifyInstance {
  app = buildServiceApp({ service: 'test', logger: createLogger({ service: 'test', level: 'silent' }), mode: 'dev', metrics: createMetrics('test'), metricsBearer: undefined, readiness: [] });
  app.get('/fail', async () => {
    throw failure();
  });
  return app;
}
afterEach(() => app?.close());

const pgError = (code: string, message: string, fields: Record<string, string> = {}) => Object.assign(new Error(message), { code, severity: 'ERROR', ...fields });
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'a dependency is temporarily unavailable' };

describe('driver errors become one answer each', () => {
  it.each([
    ['NUL in text (22021)', pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00'), 400, { error: 'invalid_request', error_description: 'a value holds a character the database cannot store' }],
    ['too long (22001) naming the column', pgError('22001', 'value too long', { column: 'name' }), 400, { error: 'invalid_request', error_description: 'name is too long' }],
    ['bad uuid text (22P02)', pgError('22P02', 'invalid input syntax for type uuid: "secret-value"'), 400, { error: 'invalid_request', error_description: 'a value has an invalid format' }],
    ['not null (23502)', pgError('23502', 'null value in column "slug"', { column: 'slug' }), 400, { error: 'invalid_request', error_description: 'slug is required' }],
    ['check (23514)', pgError('23514', 'violates check', { constraint: 'admin_tokens_scope_check' }), 400, { error: 'invalid_request', error_description: 'admin_tokens_scope_check violates a constraint' }],
    ['unique (23505) naming the key, not its value', pgError('23505', 'duplicate key', { detail: 'Key (slug)=(north) already exists.', constraint: 'zones_slug_key' }), 409, { error: 'conflict', error_description: 'slug is already taken' }],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 503, UNAVAILABLE],
    ['connection reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 503, UNAVAILABLE],
    ['admin shutdown (57P01)', pgError('57P01', 'terminating connection due to administrator command'), 503, UNAVAILABLE],
    ['starting up (57P03)', pgError('57P03', 'the database system is starting up'), 503, UNAVAILABLE],
    ['connection failure (08006)', pgError('08006', 'connection failure'), 503, UNAVAILABLE],
    ['too many connections (53300)', pgError('53300', 'sorry, too many clients already'), 503, UNAVAILABLE],
    ['statement timeout (57014)', pgError('57014', 'canceling statement due to statement timeout'), 503, UNAVAILABLE],
    ['pool timeout', new Error('timeout exceeded when trying to connect'), 503, UNAVAILABLE],
    ['pg query timeout', new Error('Query read timeout'), 503, UNAVAILABLE],
    ['pg connection lost', new Error('Connection terminated unexpectedly'), 503, UNAVAILABLE],
    ['redis command timeout', new Error('Command timed out'), 503, UNAVAILABLE],
    ['redis closed', new Error('Connection is closed.'), 503, UNAVAILABLE],
    ['redis offline', new Error("Stream isn't writeable and enableOfflineQueue options is false"), 503, UNAVAILABLE],
    ['redis retries', Object.assign(new Error('Reached the max retries per request limit (which is 1).'), { name: 'MaxRetriesPerRequestError' }), 503, UNAVAILABLE],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')"), 500, { error: 'server_error', error_description: 'internal error' }],
    ['another library code', Object.assign(new Error('x'), { code: 'ERR_SOMETHING' }), 500, { error: 'server_error', error_description: 'internal error' }],
  ])('%s', async (_name, failure, status, body) => {
    const res = await build(() => failure).inject('/fail');
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual(body);
  });
});

/** Sends raw bytes to a listening app and reads the whole answer. */
async function raw(request: string): Promise<{ status: number; headers: string; body: string }> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => s.write(request));
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('error', reject);
  });
  const [head, body = ''] = text.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head!)?.[1]), headers: head!.toLowerCase(), body };
}

describe("Node's parser errors", () => {
  it('headers too large → 431 with an RFC-shaped JSON body', async () => {
    build(() => undefined);
    const res = await raw(`GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(res.status).toBe(431);
    expect(res.headers).toContain('content-type: application/json; charset=utf-8');
    expect(res.headers).toContain('cache-control: no-store');
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_request', error_description: 'request headers too large' });
  });

  it('a malformed request → 400 with an RFC-shaped JSON body', async () => {
    build(() => undefined);
    const res = await raw('GET /health HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_request', error_description: 'malformed HTTP request' });
  });
});
