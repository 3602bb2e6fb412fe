// Outages get the right answer, fast (§15): with a private Postgres or Redis paused (SIGSTOP) or stopped, the api
// and the STS answer 503 temporarily_unavailable within the configured bound instead of hanging or answering 500.
// Only private servers are paused or stopped here, never the shared ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { privatePostgres, type PrivatePostgres } from '../../../../test-support/private-postgres.js';
import { privateRedis, type PrivateRedis } from '../../../../test-support/private-redis.js';

const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'a dependency is temporarily unavailable' };
/** PG_QUERY_TIMEOUT_MS and REDIS_COMMAND_TIMEOUT_MS default to 2 s; a request may wait for one of each. */
const BOUND_MS = 5000;

let pg: PrivatePostgres;
let redis: PrivateRedis;
let s: AuthorityStack;
let p: Provisioned;

beforeAll(async () => {
  pg = await privatePostgres();
  redis = await privateRedis();
  s = await startAuthorityStack('outage', {}, { pgUrl: pg.url, redisUrl: redis.url, apiEnv: { API_RATE_PER_MIN: '10000' } });
  p = await s.provision('east');
});
afterAll(async () => {
  pg?.resume();
  redis?.resume();
  await pg?.start().catch(() => undefined);
  await s?.stop();
  await pg?.remove();
  await redis?.remove();
});

/** Runs `work` while `pause` holds, resuming in finally whatever happens. */
async function whilePaused<T>(pause: () => void, resume: () => void, work: () => Promise<T>): Promise<T> {
  pause();
  try {
    return await work();
  } finally {
    resume();
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const t = Date.now();
  const result = await work();
  return { result, ms: Date.now() - t };
}

const clientCredentials = () => s.token({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: p.clientSecret });

describe('a paused Postgres (SIGSTOP)', () => {
  it('the api answers 503 within the bound, then serves again after SIGCONT', async () => {
    const { result, ms } = await whilePaused(pg.pause, pg.resume, () => timed(() => s.admin('GET', '/v1/zones')));
    expect(result.status).toBe(503);
    expect(result.body).toEqual(UNAVAILABLE);
    expect(ms).toBeLessThan(BOUND_MS);
    const after = await s.admin('GET', '/v1/zones');
    expect(after.status).toBe(200);
  });

  it('a mutation answers 503 within the bound and leaves nothing behind', async () => {
    const { result, ms } = await whilePaused(pg.pause, pg.resume, () => timed(() => s.admin('POST', '/v1/zones', { slug: 'paused', name: 'Paused' })));
    expect(result.status).toBe(503);
    expect(result.body).toEqual(UNAVAILABLE);
    expect(ms).toBeLessThan(BOUND_MS);
    expect((await s.admin('GET', '/v1/zones/paused')).status).toBe(404);
  });

  it('the STS answers 503 within the bound', async () => {
    const { result, ms } = await whilePaused(pg.pause, pg.resume, () => timed(clientCredentials));
    expect(result.status).toBe(503);
    expect(result.body.error).toBe('temporarily_unavailable');
    expect(ms).toBeLessThan(BOUND_MS);
    expect((await clientCredentials()).status).toBe(200);
  });
});

describe('a paused Redis (SIGSTOP)', () => {
  it('the api answers 503 within the bound, then serves again after SIGCONT', async () => {
    const { result, ms } = await whilePaused(redis.pause, redis.resume, () => timed(() => s.admin('GET', '/v1/zones')));
    expect(result.status).toBe(503);
    expect(result.body).toEqual({ error: 'temporarily_unavailable', error_description: 'rate limiter unavailable' });
    expect(ms).toBeLessThan(BOUND_MS);
    expect((await s.admin('GET', '/v1/zones')).status).toBe(200);
  });

  it('the STS answers 503 within the bound', async () => {
    const { result, ms } = await whilePaused(redis.pause, redis.resume, () => timed(clientCredentials));
    expect(result.status).toBe(503);
    expect(result.body.error).toBe('temporarily_unavailable');
    expect(ms).toBeLessThan(BOUND_MS);
    expect((await clientCredentials()).status).toBe(200);
  });
});

describe('a stopped Postgres', () => {
  it('every api route answers 503 temporarily_unavailable, never 500', async () => {
    await pg.stop();
    try {
      const calls: Array<[string, string, unknown?]> = [
        ['GET', '/v1/zones'],
        ['POST', '/v1/zones', { slug: 'down', name: 'Down' }],
        ['GET', '/v1/zones/east'],
        ['GET', '/v1/zones/east/applications'],
        ['POST', '/v1/zones/east/applications', { name: 'b' }],
        ['GET', '/v1/zones/east/resources'],
        ['GET', '/v1/zones/east/grants'],
        ['GET', '/v1/admin-tokens'],
        ['GET', '/v1/zones/east/audit/events'],
        ['GET', '/v1/audit/admin/events'],
        ['GET', '/v1/audit/admin/verify'],
      ];
      for (const [method, path, body] of calls) {
        const res = await s.admin(method, path, body);
        expect({ method, path, status: res.status, body: res.body }).toEqual({ method, path, status: 503, body: res.body });
        expect(res.body.error).toBe('temporarily_unavailable');
      }
    } finally {
      await pg.start();
    }
    expect((await s.admin('GET', '/v1/zones')).status).toBe(200);
  });
});
