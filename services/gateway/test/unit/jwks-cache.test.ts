// The JWKS cache is keyed by a zone id read before any signature check, so what it stores and fetches is bounded
// (issue 8 item 3): least-recently-used eviction, negative caching, and a ration of fetches for unseen zones.
// Runs against a real HTTP server publishing keys; the clock is a plain variable.
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksCache, type JwksCacheOptions } from '../../src/jwks-cache.js';

const KNOWN = '0190f3d2-0000-7000-8000-000000000001';
const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1' };
let server: http.Server;
let url = '';
const fetched: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const zone = new URL(req.url ?? '/', 'http://x').searchParams.get('zone_id') ?? '';
    fetched.push(zone);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: zone.startsWith('0190f3d2') ? [jwk] : [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

let clock = 1_000_000;
const cache = (o: Partial<JwksCacheOptions> = {}) =>
  new JwksCache({ stsUrl: url, cooldownMs: 30_000, timeoutMs: 2_000, maxZones: 5, negativeTtlMs: 5_000, unknownZoneFetchesPerMin: 3, knownZone: () => false, now: () => clock, ...o });
const randomZone = (i: number) => `7e57${String(i).padStart(4, '0')}-0000-7000-8000-000000000000`;

describe('JwksCache bounds', () => {
  it('many unseen zones cause at most the ration of fetches a minute, then are refused as unknown_zone without one', async () => {
    const c = cache();
    const start = fetched.length;
    const answers = [];
    for (let i = 0; i < 50; i += 1) answers.push(await c.resolve(randomZone(i), 'k1'));
    expect(answers.every((a) => a === 'unknown_zone')).toBe(true);
    expect(fetched.length - start).toBe(3);
    expect(c.size).toBeLessThanOrEqual(5);
    clock += 60_000;
    await c.resolve(randomZone(99), 'k1');
    expect(fetched.length - start).toBe(4);
  });

  it('a zone that publishes no keys is remembered as unknown for the negative TTL, then asked again', async () => {
    const c = cache({ knownZone: () => true });
    const zone = randomZone(500);
    const start = fetched.length;
    for (let i = 0; i < 10; i += 1) expect(await c.resolve(zone, 'k1')).toBe('unknown_zone');
    expect(fetched.length - start).toBe(1);
    clock += 5_001;
    await c.resolve(zone, 'k1');
    expect(fetched.length - start).toBe(2);
  });

  it('holds at most maxZones entries, evicting the least recently used', async () => {
    const c = cache({ knownZone: () => true, maxZones: 2 });
    const zones = [1, 2, 3].map((i) => `0190f3d2-0000-7000-8000-00000000000${i}`);
    await c.resolve(zones[0]!, 'k1');
    await c.resolve(zones[1]!, 'k1');
    await c.resolve(zones[0]!, 'k1');
    await c.resolve(zones[2]!, 'k1');
    expect(c.size).toBe(2);
    const start = fetched.length;
    expect(await c.resolve(zones[0]!, 'k1')).toBeDefined();
    expect(fetched.length - start).toBe(0);
    await c.resolve(zones[1]!, 'k1');
    expect(fetched.length - start).toBe(1);
  });

  it('a zone the revocation snapshot knows is fetched outside the ration and its keys resolve', async () => {
    const c = cache({ knownZone: (z) => z === KNOWN, unknownZoneFetchesPerMin: 0 });
    const key = await c.resolve(KNOWN, 'k1');
    expect(key).not.toBe('unknown_zone');
    expect(key).toBeDefined();
    expect(await c.resolve(randomZone(7), 'k1')).toBe('unknown_zone');
  });
});
