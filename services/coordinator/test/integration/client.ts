// The coordinator over real HTTP, as the integration tests call it: the operator's bearer token unless a test sends
// its own authorization header, JSON in and out; and the two instances the tests run it as.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createLogger } from '../../../../packages/logging/dist/index.js';
import { startService, type AuthorityStack } from '../../../../test-support/authority.js';
import { freePort } from '../../../../test-support/deps.js';
import { buildApp } from '../../src/app.js';
import { loadConfig, type CoordinatorConfig } from '../../src/config.js';

export type Res = { status: number; body: any; headers: Headers };

export function coordinatorClient(token: string, defaultBase: () => string) {
  return async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, base = defaultBase()): Promise<Res> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  };
}

/** The coordinator's environment on an authority stack: its own port, role, spill directory and keys. */
export async function coordinatorEnv(s: AuthorityStack, token: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    ...s.env,
    PORT: String(await freePort()),
    DATABASE_URL: s.db.roleUrl('coordinator'),
    AUDIT_SPILL_DIR: join(s.spillRoot, `coordinator-${randomBytes(4).toString('hex')}`),
    IDEMPOTENCY_HMAC_KEY: randomBytes(32).toString('hex'),
    CARACAL_COORDINATOR_TOKEN: token,
    COORDINATOR_RATE_PER_MIN: '100000',
    ...extra,
  };
}

type Running = Awaited<ReturnType<typeof startService>>;

/** Two coordinator instances sharing every secret and listening apart, sweepers off (tests drive the sweep). */
export async function startTwoCoordinators(env: Record<string, string>): Promise<{ config: CoordinatorConfig; c1: Running; c2: Running }> {
  const level = (process.env.COORDINATOR_TEST_LOG as 'error' | undefined) ?? 'silent';
  const noSweep = (c: CoordinatorConfig, d: any) => buildApp(c, d, createLogger({ service: 'coordinator', level }), { sweeper: false });
  const config = loadConfig(env);
  const c1 = await startService('coordinator', noSweep, config);
  const c2 = await startService('coordinator', noSweep, loadConfig({ ...env, PORT: String(await freePort()) }));
  return { config, c1, c2 };
}
