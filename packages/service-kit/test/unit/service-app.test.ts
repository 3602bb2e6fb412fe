// buildServiceApp via inject: RFC-shaped errors that hide 5xx detail, bad input, request ids, security headers.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '@caracal/logging';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServiceApp } from '../../src/build-service-app.js';
import { Forbidden, InvalidRequest, ServiceUnavailable, TooManyRequests, Unauthorized } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let app: FastifyInstance;
let logLines: string[];

function build(): FastifyInstance {
  logLines = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  app = buildServiceApp({
    service: 'test',
    logger: createLogger({ service: 'test', level: 'error', destination }),
    mode: 'stable',
    metrics: createMetrics('test'),
    metricsBearer: 'ab'.repeat(16),
    readiness: [],
    bodyLimit: 1024,
  });
  app.get('/invalid', async () => {
    throw new InvalidRequest('scope is not allowed');
  });
  app.get('/typed/:kind', async (req) => {
    const kind = (req.params as { kind: string }).kind;
    if (kind === 'unauthorized') throw new Unauthorized('token expired', { 'www-authenticate': 'Bearer error="invalid_token"' });
    if (kind === 'forbidden') throw new Forbidden();
    if (kind === 'throttled') throw new TooManyRequests('slow down', 7);
    throw new ServiceUnavailable('postgres_unreachable');
  });
  app.get('/crash', async () => {
    throw new Error('secret detail: password=hunter2');
  });
  app.get('/crash-4xx', async () => {
    throw Object.assign(new Error('conflict on row owned by secret-tenant'), { statusCode: 409 });
  });
  app.get('/cached', async (_req, reply) => reply.header('cache-control', 'max-age=60').send({ ok: true }));
  app.post(
    '/things',
    { schema: { body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string' }, n: { type: 'integer' } } } } },
    async (req) => ({ got: req.body }),
  );
  return app;
}

afterEach(async () => {
  await app?.close();
});

const json = (body: string) => ({ method: 'POST' as const, url: '/things', headers: { 'content-type': 'application/json' }, payload: body });

describe('error handler', () => {
  it('answers an unknown route with 404 and exactly {error, error_description}, without the query', async () => {
    const res = await build().inject({ method: 'GET', url: '/nope/here?token=abc' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not_found', error_description: 'no route for GET /nope/here' });
  });

  it('turns a typed InvalidRequest into a 400 RFC body', async () => {
    const res = await build().inject({ method: 'GET', url: '/invalid' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'scope is not allowed' });
  });

  it.each([
    ['unauthorized', 401, { error: 'unauthorized', error_description: 'token expired' }, { 'www-authenticate': 'Bearer error="invalid_token"' }],
    ['forbidden', 403, { error: 'forbidden', error_description: 'not allowed' }, {}],
    ['throttled', 429, { error: 'too_many_requests', error_description: 'slow down' }, { 'retry-after': '7' }],
    ['down', 503, { error: 'temporarily_unavailable', error_description: 'postgres_unreachable' }, {}],
  ])('keeps the status, code and headers of a typed %s error', async (kind, status, body, headers) => {
    const res = await build().inject({ method: 'GET', url: `/typed/${kind}` });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual(body);
    expect(res.headers).toMatchObject(headers);
  });

  it('hides the detail of an unexpected error behind a generic 500, but logs it', async () => {
    const res = await build().inject({ method: 'GET', url: '/crash' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'server_error', error_description: 'internal error' });
    expect(res.body).not.toContain('secret detail');
    expect(res.body).not.toContain('hunter2');
    expect(logLines.join('')).toContain('secret detail');
  });

  it('does not echo the message of an untyped 4xx error', async () => {
    const res = await build().inject({ method: 'GET', url: '/crash-4xx' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'the request could not be processed' });
    expect(res.body).not.toContain('secret-tenant');
  });
});

describe('bad input (§15)', () => {
  it('accepts a body that matches the schema', async () => {
    const res = await build().inject(json('{"name":"a","n":2}'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ got: { name: 'a', n: 2 } });
  });

  it('rejects an unknown field with 400 naming the field (not silently stripped)', async () => {
    const res = await build().inject(json('{"name":"a","is_admin":true}'));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: "unknown field 'is_admin' in body" });
  });

  it('rejects a missing required field and a wrong type (no coercion)', async () => {
    const missing = await build().inject(json('{"n":1}'));
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ error: 'invalid_request', error_description: "body must have required property 'name'" });
    const wrongType = await app.inject(json('{"name":"a","n":"5"}'));
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json()).toEqual({ error: 'invalid_request', error_description: 'body.n must be integer' });
  });

  it('rejects malformed JSON with 400 invalid_request', async () => {
    const res = await build().inject(json('{"name": "a",'));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'malformed JSON body' });
  });

  it('rejects an empty JSON body with 400 invalid_request', async () => {
    const res = await build().inject(json(''));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'empty JSON body' });
  });

  it('rejects a content type it does not parse with 415', async () => {
    const res = await build().inject({ method: 'POST', url: '/things', headers: { 'content-type': 'text/xml' }, payload: '<name>a</name>' });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({ error: 'unsupported_media_type', error_description: 'unsupported content type' });
  });

  it('rejects a body over bodyLimit with 413', async () => {
    const res = await build().inject(json(JSON.stringify({ name: 'x'.repeat(2000) })));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: 'payload_too_large', error_description: 'request body too large' });
  });
});

describe('request ids and headers', () => {
  it('echoes a plain caller request id', async () => {
    const res = await build().inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'req-42.abc:Z_9' } });
    expect(res.headers['x-request-id']).toBe('req-42.abc:Z_9');
  });

  it.each([
    ['too long', 'a'.repeat(500)],
    ['with spaces', 'req 42'],
    ['with a newline-like payload', 'a%0d%0aSet-Cookie:x'],
    ['empty', ''],
  ])('replaces a request id that is %s with a fresh UUID', async (_label, given) => {
    const res = await build().inject({ method: 'GET', url: '/health', headers: { 'x-request-id': given } });
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('mints a UUID when none is given', async () => {
    const res = await build().inject({ method: 'GET', url: '/health' });
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('sets cache-control no-store and nosniff on every kind of response', async () => {
    build();
    const requests = [
      { method: 'GET' as const, url: '/health' },
      { method: 'GET' as const, url: '/nope' },
      { method: 'GET' as const, url: '/invalid' },
      { method: 'GET' as const, url: '/crash' },
      { method: 'GET' as const, url: '/metrics' },
      json('{'),
      json(JSON.stringify({ name: 'x'.repeat(2000) })),
      { method: 'POST' as const, url: '/things', headers: { 'content-type': 'text/plain' }, payload: 'x' },
    ];
    for (const r of requests) {
      const res = await app.inject(r);
      expect(res.headers['cache-control'], `${r.method} ${r.url} ${res.statusCode}`).toBe('no-store');
      expect(res.headers['x-content-type-options'], `${r.method} ${r.url}`).toBe('nosniff');
    }
  });

  it('keeps a cache-control a route set deliberately', async () => {
    const res = await build().inject({ method: 'GET', url: '/cached' });
    expect(res.headers['cache-control']).toBe('max-age=60');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});
