// Guessing secrets cannot lock the real client out (issue 8 item 5, R-STS-4): failures are counted per client and
// source address, so an attacker hammering from one address is slowed down while the client still gets in.
// The app does not trust proxies, so the source is the socket address (set here with inject's remoteAddress).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../packages/logging/dist/index.js';
import { closeDeps, connectDeps, startConnecting, type Runnable, type ServiceDeps } from '../../../../packages/service-kit/dist/index.js';
import { buildApp } from '../../dist/app.js';
import { loadConfig } from '../../dist/config.js';
import { startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';

let s: AuthorityStack;
let p: Provisioned;
let q: Provisioned;
let sts: Runnable;
let deps: ServiceDeps;
let spill: string;

beforeAll(async () => {
  s = await startAuthorityStack('stslock');
  p = await s.provision('lock');
  q = await s.provision('lockwide');
  spill = mkdtempSync(join(tmpdir(), 'caracal-spill-'));
  // A second STS instance on the same database and Redis with the default limit of 60 failures per minute per
  // address, and a client-wide ceiling of 100.
  const config = loadConfig({ ...s.env, PORT: '65000', DATABASE_URL: s.db.roleUrl('sts'), AUDIT_SPILL_DIR: spill, AUTH_FAILURES_PER_MIN: '60', AUTH_FAILURES_PER_CLIENT_PER_MIN: '100' });
  const logger = createLogger({ service: 'sts', level: 'silent' });
  deps = connectDeps(config, 'sts', logger);
  startConnecting(deps);
  sts = await buildApp(config, deps, logger);
  await sts.app.ready();
  for (let i = 0; i < 200 && (await sts.app.inject({ method: 'GET', url: '/ready' })).statusCode !== 200; i++) await new Promise((r) => setTimeout(r, 50));
});
afterAll(async () => {
  await sts?.app.close();
  if (deps) await closeDeps(deps);
  rmSync(spill, { recursive: true, force: true });
  await s.stop();
});

/** Counters are per minute: start a scenario early enough in the minute that it cannot straddle two windows. */
async function freshWindow(): Promise<void> {
  const intoMinute = (Date.now() / 1000) % 60;
  if (intoMinute > 45) await new Promise((r) => setTimeout(r, (61 - intoMinute) * 1000));
}

const bootstrap = (secret: string, remoteAddress: string, client: Provisioned = p) =>
  sts.app.inject({
    method: 'POST',
    url: '/oauth/2/token',
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: secret }).toString(),
  });

describe('failed authentications are counted per client and source address', () => {
  it('an attacker at one address is slowed down; the client at another still gets a token', async () => {
    await freshWindow();
    const attacker = '203.0.113.7';
    const statuses: number[] = [];
    for (let i = 0; i < 65; i++) statuses.push((await bootstrap('0'.repeat(64), attacker)).statusCode);
    expect(statuses.slice(0, 60).every((x) => x === 401)).toBe(true);
    expect(statuses.slice(60).every((x) => x === 429)).toBe(true);

    const refused = await bootstrap(p.clientSecret, attacker);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ error: 'slow_down', error_description: 'too many failed authentications' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

    const legit = await bootstrap(p.clientSecret, '198.51.100.4');
    expect(legit.statusCode).toBe(200);
    expect(legit.json()).toMatchObject({ token_type: 'Bearer', scope: 'agent:lifecycle' });
  });

  it('past the client-wide ceiling, every address that already failed backs off; the real client still gets in', async () => {
    await freshWindow();
    const wrong = '1'.repeat(64);
    // 25 addresses × 4 failures = 100: the client-wide ceiling, while each address stays far below its own 60.
    for (let a = 1; a <= 25; a++) for (let i = 0; i < 4; i++) expect((await bootstrap(wrong, `192.0.2.${a}`, q)).statusCode).toBe(401);
    const again = await bootstrap(wrong, '192.0.2.1', q);
    expect(again.statusCode).toBe(429);
    expect(again.json()).toEqual({ error: 'slow_down', error_description: 'too many failed authentications' });
    expect((await bootstrap(q.clientSecret, '192.0.2.2', q)).statusCode).toBe(429);
    // An address with no failure is not locked out by the others: the real client gets its token.
    expect((await bootstrap(q.clientSecret, '198.51.100.9', q)).statusCode).toBe(200);
  });
});
