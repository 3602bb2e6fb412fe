// Fail closed (R-STS-3, R-GW-1, §15): with Redis stopped the STS refuses to mint and the gateway refuses to
// forward, both with 503 and a clear reason; both recover by themselves when Redis comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, EXCHANGE, startAuthorityStack, waitReady, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { privateRedis, type PrivateRedis } from '../../../../test-support/private-redis.js';

let s: AuthorityStack;
let p: Provisioned;
let redis: PrivateRedis;

beforeAll(async () => {
  redis = await privateRedis();
  s = await startAuthorityStack('failclosed', {}, { redisUrl: redis.url });
  p = await s.provision('fc');
});
afterAll(async () => {
  await s.stop();
  await redis.remove();
});

const gw = (token: string) => fetch(`${s.gateway.url}/${p.resource.slice(11)}/items`, { headers: { authorization: `Bearer ${token}` } });
const ready = (url: string) => fetch(`${url}/ready`).then(async (r) => ({ status: r.status, body: (await r.json()) as { reason?: string } }));

describe('Redis down', () => {
  it('refuses to mint, bootstrap or forward, then recovers by itself', async () => {
    const session = await s.session(p);
    const premint = await s.mandate(p, session);
    expect((await gw(await s.mandate(p, session))).status).toBe(200);
    const before = s.upstream.requests.length;

    await redis.stop();

    const exchange = await s.token({ grant_type: EXCHANGE, subject_token: session, subject_token_type: ACCESS, resource: p.resource, scope: 'items:read' });
    expect(exchange.status).toBe(503);
    expect(exchange.body.error).toBe('temporarily_unavailable');
    const boot = await s.token({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: p.clientSecret });
    expect(boot.status).toBe(503);
    expect(boot.body).toEqual({ error: 'temporarily_unavailable', error_description: 'rate limiter unavailable' });

    const forwarded = await gw(premint);
    expect(forwarded.status).toBe(503);
    expect(await forwarded.json()).toEqual({ error: 'temporarily_unavailable', error_description: 'the replay registry is unavailable' });
    expect(s.upstream.requests.length).toBe(before);
    for (const url of [s.sts.url, s.gateway.url]) expect((await ready(url)).body.reason).toBe('redis_unreachable');

    await redis.start();
    await waitReady(s.sts.url, 20_000);
    await waitReady(s.gateway.url, 20_000);
    // The refused mandate was never consumed: it works now.
    expect((await gw(premint)).status).toBe(200);
    expect((await gw(await s.mandate(p))).status).toBe(200);
  });
});
