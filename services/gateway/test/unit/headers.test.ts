// Header rewriting (R-GW-4): caller identity and hop-by-hop headers never reach the upstream; tracing is the gateway's.
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  filterResponseHeaders,
  forwardRequestHeaders,
  nextTraceparent,
  parseTraceparent,
  type RandomHex,
} from '../../src/proxy/headers.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_PARENT = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${CALLER_PARENT}-01`;
const W3C = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Deterministic random source: every byte is `fill`. */
const fixed = (fill: string): RandomHex => (bytes) => fill.repeat(bytes);
const ctx = { requestId: 'req-123' };

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
];
const CALLER_ONLY = [
  'authorization',
  'x-caracal-zone',
  'x-caracal-principal',
  'X-Caracal-Mandate',
  'x-forwarded-for',
  'x-forwarded-host',
  'X-Forwarded-Proto',
  'forwarded',
  'x-real-ip',
  'X-Real-IP',
  'host',
  'expect',
  ':authority',
];

describe('forwardRequestHeaders removes (R-GW-4)', () => {
  it.each([...HOP_BY_HOP, ...CALLER_ONLY])('drops %s', (name) => {
    const out = forwardRequestHeaders({ [name]: 'v', accept: 'application/json' }, ctx);
    expect(Object.keys(out).map((k) => k.toLowerCase())).not.toContain(name.toLowerCase());
    expect(out['accept']).toBe('application/json');
  });

  it('drops headers named by Connection, case-insensitively and across commas', () => {
    const out = forwardRequestHeaders(
      { connection: 'keep-alive, X-Secret-Hop ,x-other,,', 'x-secret-hop': '1', 'x-other': '2', 'x-kept': '3' },
      ctx,
    );
    expect(out['x-secret-hop']).toBeUndefined();
    expect(out['x-other']).toBeUndefined();
    expect(out['x-kept']).toBe('3');
  });

  it('drops headers named by Connection given as an array or under another spelling', () => {
    const incoming = { Connection: ['x-a', 'X-B, x-c'], 'x-a': '1', 'x-b': '2', 'x-c': '3', 'x-d': '4' } as IncomingHttpHeaders;
    expect(forwardRequestHeaders(incoming, ctx)).toEqual({
      'x-d': '4',
      'x-request-id': 'req-123',
      traceparent: expect.stringMatching(W3C),
    });
  });

  it('drops authorization in every spelling, and even cookie once Connection names it', () => {
    const out = forwardRequestHeaders({ Authorization: 'Bearer agent', AUTHORIZATION: 'Bearer x', connection: 'cookie' }, ctx);
    expect(Object.keys(out).filter((k) => k.toLowerCase() === 'authorization')).toEqual([]);
    expect(out['cookie']).toBeUndefined();
  });
});

describe('forwardRequestHeaders keeps and sets', () => {
  it('keeps end-to-end headers, including cookie and repeated values', () => {
    const out = forwardRequestHeaders({ cookie: 'a=1', 'content-type': 'text/plain', 'x-multi': ['1', '2'] }, ctx);
    expect(out).toMatchObject({ cookie: 'a=1', 'content-type': 'text/plain', 'x-multi': ['1', '2'] });
  });

  it('sets x-request-id over any the caller sent', () => {
    expect(forwardRequestHeaders({ 'x-request-id': 'forged' }, ctx)['x-request-id']).toBe('req-123');
  });

  it('continues a valid caller trace under a new parent-id and keeps tracestate', () => {
    const out = forwardRequestHeaders({ traceparent: VALID, tracestate: 'vendor=1' }, ctx, fixed('ab'));
    expect(out['traceparent']).toBe(`00-${TRACE_ID}-abababababababab-01`);
    expect(out['tracestate']).toBe('vendor=1');
  });

  it('keeps the caller trace flags', () => {
    expect(forwardRequestHeaders({ traceparent: `00-${TRACE_ID}-${CALLER_PARENT}-00` }, ctx, fixed('cd'))['traceparent']).toBe(
      `00-${TRACE_ID}-cdcdcdcdcdcdcdcd-00`,
    );
  });

  it('uses fresh randomness by default', () => {
    const a = forwardRequestHeaders({ traceparent: VALID }, ctx)['traceparent'] as string;
    const b = forwardRequestHeaders({ traceparent: VALID }, ctx)['traceparent'] as string;
    expect(a).toMatch(W3C);
    expect(a.slice(0, 36)).toBe(b.slice(0, 36));
    expect(a).not.toBe(b);
    expect(a).not.toContain(CALLER_PARENT);
  });

  it.each([
    ['absent', undefined],
    ['all-zero trace-id', `00-${'0'.repeat(32)}-${CALLER_PARENT}-01`],
    ['all-zero parent-id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['short trace-id', `00-${TRACE_ID.slice(1)}-${CALLER_PARENT}-01`],
    ['long parent-id', `00-${TRACE_ID}-${CALLER_PARENT}0-01`],
    ['uppercase hex', `00-${TRACE_ID.toUpperCase()}-${CALLER_PARENT}-01`],
    ['unknown version', `01-${TRACE_ID}-${CALLER_PARENT}-01`],
    ['invalid version ff', `ff-${TRACE_ID}-${CALLER_PARENT}-01`],
    ['trailing data', `${VALID}-extra`],
    ['surrounding space', ` ${VALID}`],
    ['non-hex', `00-${TRACE_ID.slice(0, 31)}g-${CALLER_PARENT}-01`],
    ['repeated header', [VALID, VALID]],
  ])('regenerates the trace and drops tracestate when the caller traceparent is %s', (_what, traceparent) => {
    const incoming: IncomingHttpHeaders = { tracestate: 'vendor=1' };
    if (traceparent !== undefined) incoming['traceparent'] = traceparent as string;
    const out = forwardRequestHeaders(incoming, ctx, fixed('12'));
    expect(out['traceparent']).toBe(`00-${'12'.repeat(16)}-${'12'.repeat(8)}-01`);
    expect(out['tracestate']).toBeUndefined();
  });

  it('never emits an all-zero id even from a degenerate random source', () => {
    const out = forwardRequestHeaders({}, ctx, fixed('00'));
    expect(parseTraceparent(out['traceparent'])).toBeDefined();
  });

  it('uses a traceparent chosen by the gateway verbatim, keeping tracestate only for the same trace', () => {
    const chosen = nextTraceparent(VALID, fixed('ef'));
    expect(chosen).toEqual({ traceparent: `00-${TRACE_ID}-efefefefefefefef-01`, continued: true });
    const same = forwardRequestHeaders({ traceparent: VALID, tracestate: 's=1' }, { ...ctx, traceparent: chosen.traceparent });
    expect(same).toMatchObject({ traceparent: chosen.traceparent, tracestate: 's=1' });
    const other = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const fresh = forwardRequestHeaders({ traceparent: VALID, tracestate: 's=1' }, { ...ctx, traceparent: other });
    expect(fresh['traceparent']).toBe(other);
    expect(fresh['tracestate']).toBeUndefined();
  });

  it('refuses an invalid gateway-chosen traceparent', () => {
    expect(() => forwardRequestHeaders({}, { ...ctx, traceparent: 'nonsense' })).toThrow(TypeError);
  });
});

describe('filterResponseHeaders (R-GW-4)', () => {
  it.each([...HOP_BY_HOP, 'server', 'Server', 'x-powered-by', 'X-Powered-By'])('drops %s', (name) => {
    const out = filterResponseHeaders({ [name]: 'v', 'content-type': 'application/json' });
    expect(Object.keys(out)).toEqual(['content-type']);
  });

  it('drops headers named by the upstream Connection header', () => {
    expect(filterResponseHeaders({ connection: 'close, x-internal', 'x-internal': 'debug', etag: '"1"' })).toEqual({ etag: '"1"' });
  });

  it('keeps end-to-end headers, including repeated set-cookie', () => {
    const upstream = { 'set-cookie': ['a=1', 'b=2'], 'cache-control': 'no-store', 'x-request-id': 'up-1' };
    expect(filterResponseHeaders(upstream)).toEqual(upstream);
  });
});

describe('inputs are never mutated', () => {
  it('leaves request and response header objects and their arrays untouched', () => {
    const incoming: IncomingHttpHeaders = {
      connection: 'x-hop',
      'x-hop': '1',
      authorization: 'Bearer agent',
      traceparent: VALID,
      tracestate: 's=1',
      'x-multi': ['1', '2'],
    };
    const upstream: IncomingHttpHeaders = { server: 'nginx', 'set-cookie': ['a=1'], connection: 'close' };
    const before = structuredClone({ incoming, upstream });
    const out = forwardRequestHeaders(incoming, ctx);
    const back = filterResponseHeaders(upstream);
    expect({ incoming, upstream }).toEqual(before);
    expect(out['x-multi']).not.toBe(incoming['x-multi']);
    expect(back['set-cookie']).not.toBe(upstream['set-cookie']);
  });
});
