// R-OPS-1: /health, the /ready ladder naming the first failing check (with a timeout), /metrics behind the bearer.
import type { FastifyInstance } from 'fastify';
import { createLogger } from '@caracal/logging';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildServiceApp, type ServiceAppOptions } from '../../src/build-service-app.js';
import { bearerMatches, createMetrics } from '../../src/metrics.js';
import { runLadder, type ReadinessCheck } from '../../src/readiness.js';

const BEARER = 'c0ffee'.repeat(6);
let app: FastifyInstance | undefined;

function build(over: Partial<ServiceAppOptions> = {}): FastifyInstance {
  app = buildServiceApp({
    service: 'svc',
    logger: createLogger({ service: 'svc', level: 'silent' }),
    mode: 'stable',
    metrics: createMetrics('svc'),
    metricsBearer: BEARER,
    readiness: [],
    ...over,
  });
  return app;
}

afterEach(async () => {
  await app?.close();
  app = undefined;
});

const ok = (reason: string): ReadinessCheck => ({ reason, check: async () => undefined });
const failing = (reason: string, message = 'connect ECONNREFUSED 10.0.0.5:5432 password=hunter2'): ReadinessCheck => ({
  reason,
  check: async () => {
    throw new Error(message);
  },
});

describe('/health', () => {
  it('answers 200 without consulting readiness', async () => {
    const check = vi.fn(async () => undefined);
    const res = await build({ readiness: [{ reason: 'x', check }] }).inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, service: 'svc' });
    expect(check).not.toHaveBeenCalled();
  });
});

describe('/ready', () => {
  it('answers 200 when every check passes', async () => {
    const res = await build({ readiness: [ok('postgres_unreachable'), ok('redis_unreachable')] }).inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, ready: true, service: 'svc' });
  });

  it('answers 503 naming the first failing check, stops there, and does not leak the failure detail', async () => {
    const later = vi.fn(async () => undefined);
    const res = await build({
      readiness: [ok('postgres_unreachable'), failing('redis_unreachable'), failing('audit_evidence_lost'), { reason: 'sts_unavailable', check: later }],
    }).inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ ok: false, ready: false, service: 'svc', reason: 'redis_unreachable' });
    expect(res.body).not.toContain('hunter2');
    expect(later).not.toHaveBeenCalled();
  });

  it('fails on the first rung when that is the one down', async () => {
    const res = await build({ readiness: [failing('postgres_unreachable'), failing('redis_unreachable')] }).inject({ method: 'GET', url: '/ready' });
    expect(res.json()).toMatchObject({ ready: false, reason: 'postgres_unreachable' });
  });

  it('treats a hanging check as failing (timeout) rather than hanging the probe', async () => {
    const hang: ReadinessCheck = { reason: 'revocation_snapshot_stale', check: () => new Promise(() => undefined) };
    const started = Date.now();
    const res = await build({ readiness: [ok('postgres_unreachable'), hang] }).inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ ok: false, ready: false, service: 'svc', reason: 'revocation_snapshot_stale' });
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('publishes the outcome as the caracal_ready gauge', async () => {
    let up = false;
    const check = async () => {
      if (!up) throw new Error('down');
    };
    build({ readiness: [{ reason: 'redis_unreachable', check }] });
    const auth = { authorization: `Bearer ${BEARER}` };
    await app!.inject({ method: 'GET', url: '/ready' });
    expect((await app!.inject({ method: 'GET', url: '/metrics', headers: auth })).body).toMatch(/^caracal_ready\{service="svc"\} 0$/m);
    up = true;
    await app!.inject({ method: 'GET', url: '/ready' });
    expect((await app!.inject({ method: 'GET', url: '/metrics', headers: auth })).body).toMatch(/^caracal_ready\{service="svc"\} 1$/m);
  });
});

describe('runLadder', () => {
  it('reports the reason and the detail of the first failure', async () => {
    expect(await runLadder([ok('a'), failing('b', 'boom'), failing('c')])).toEqual({ ready: false, reason: 'b', detail: 'boom' });
  });

  it('times out a check after the given budget', async () => {
    const r = await runLadder([{ reason: 'slow', check: () => new Promise((res) => setTimeout(res, 1000)) }], 30);
    expect(r).toEqual({ ready: false, reason: 'slow', detail: 'timed out after 30 ms' });
  });

  it('fails a check that rejects with a non-Error value', async () => {
    const r = await runLadder([{ reason: 'odd', check: () => Promise.reject('plain string') }]);
    expect(r).toEqual({ ready: false, reason: 'odd', detail: 'plain string' });
  });
});

describe('/metrics', () => {
  const get = (headers: Record<string, string> = {}) => app!.inject({ method: 'GET', url: '/metrics', headers });

  it.each([
    ['no authorization', {}],
    ['a wrong bearer', { authorization: `Bearer ${'00'.repeat(18)}` }],
    ['the right token with the wrong scheme', { authorization: `Basic ${BEARER}` }],
    ['the right token with a lowercase scheme and no space', { authorization: `bearer${BEARER}` }],
    ['a prefix of the right token', { authorization: `Bearer ${BEARER.slice(0, -2)}` }],
    ['the right token plus trailing text', { authorization: `Bearer ${BEARER} ` }],
  ])('stable mode refuses %s with 401', async (_label, headers) => {
    build();
    const res = await get(headers);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'unauthorized', error_description: 'metrics require the metrics bearer token' });
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).not.toContain('caracal_ready');
  });

  it('stable mode without a configured bearer refuses everyone (fail closed)', async () => {
    build({ metricsBearer: undefined });
    expect((await get()).statusCode).toBe(401);
    expect((await get({ authorization: 'Bearer ' })).statusCode).toBe(401);
    expect((await get({ authorization: 'Bearer undefined' })).statusCode).toBe(401);
  });

  it('stable mode serves Prometheus text with the right bearer', async () => {
    build();
    const res = await get({ authorization: `Bearer ${BEARER}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('# TYPE caracal_stream_messages_rejected_total counter');
  });

  it('dev mode without a configured bearer serves metrics openly', async () => {
    build({ mode: 'dev', metricsBearer: undefined });
    expect((await get()).statusCode).toBe(200);
  });

  it('dev mode with a configured bearer still demands it', async () => {
    build({ mode: 'dev' });
    expect((await get()).statusCode).toBe(401);
    expect((await get({ authorization: `Bearer ${BEARER}` })).statusCode).toBe(200);
  });
});

describe('bearerMatches', () => {
  it('matches only the exact token after "Bearer "', () => {
    expect(bearerMatches(`Bearer ${BEARER}`, BEARER)).toBe(true);
    expect(bearerMatches(undefined, BEARER)).toBe(false);
    expect(bearerMatches('Bearer', BEARER)).toBe(false);
    expect(bearerMatches(`Bearer ${BEARER.toUpperCase()}`, BEARER)).toBe(false);
  });
});
