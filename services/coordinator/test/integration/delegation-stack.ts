// The stack the delegation tests share (R-CO-1, R-STS-2, R-GW-1): an authority stack (STS, gateway, Postgres, Redis)
// with one provisioned application and resource, two coordinators, and helpers to build a delegation graph at the
// coordinator, mint over it at the STS and call the gateway. The state is exported as live bindings, set by the hooks
// useDelegationStack registers; each test file that calls it gets a stack of its own.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';
import { STREAMS } from '../../../../packages/streams/dist/index.js';
import { ACCESS, EXCHANGE, startAuthorityStack, stopService, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { coordinatorClient, coordinatorEnv, startTwoCoordinators } from './client.js';

const token = randomBytes(32).toString('hex');
export let s: AuthorityStack;
export let p: Provisioned;
export let redis: Redis;
let coordinators: Awaited<ReturnType<typeof startTwoCoordinators>>;

export function useDelegationStack(label: string): void {
  beforeAll(async () => {
    s = await startAuthorityStack(label);
    p = await s.provision(label, {
      scopes: ['items:read', 'items:write'],
      operations: [
        { method: 'GET', path: '/*', scope: 'items:read' },
        { method: 'POST', path: '/*', scope: 'items:write' },
      ],
    });
    redis = new Redis(s.env.REDIS_URL);
    coordinators = await startTwoCoordinators(await coordinatorEnv(s, token));
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    for (const c of [coordinators?.c1, coordinators?.c2]) if (c) await stopService(c).catch(() => undefined);
    await s?.stop();
  });
}

export const call = coordinatorClient(token, () => coordinators.c1.url);
export const zq = () => `zone_id=${p.zoneId}`;

export async function session(extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call('POST', `/v1/agents?${zq()}`, { application_id: p.applicationId, ttl_seconds: 600, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
export async function delegate(source: string, target: string, ttl = 300, scopes = ['items:read']): Promise<string> {
  const r = await call('POST', `/v1/delegations?${zq()}`, { source_session_id: source, target_session_id: target, scopes, ttl_seconds: ttl });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
/** Sessions s0…sn and edges s0→s1→…→sn, each hop shorter-lived than the one above. */
export async function chain(hops: number): Promise<{ sessions: string[]; edges: string[] }> {
  const sessions = [await session()];
  const edges: string[] = [];
  for (let i = 0; i < hops; i++) {
    sessions.push(await session());
    edges.push(await delegate(sessions[i]!, sessions[i + 1]!, 300 - i, ['items:read', 'items:write']));
  }
  return { sessions, edges };
}
export const revokeEdge = (id: string) => call('POST', `/v1/delegations/${id}/revoke?${zq()}`);
export const sessionVerb = (id: string, verb: string) => call('POST', `/v1/agents/${id}/${verb}?${zq()}`);

/** A token exchange at the STS as agent session `agent`, over `edge` when given. */
export async function exchange(agent: string, edge?: string, scope = 'items:read', subject?: string) {
  return s.token({
    grant_type: EXCHANGE,
    subject_token: subject ?? (await s.session(p)),
    subject_token_type: ACCESS,
    resource: p.resource,
    scope,
    agent_session_id: agent,
    ...(edge ? { delegation_edge_id: edge } : {}),
  });
}
export async function mandateAs(agent: string, edge?: string, scope = 'items:read'): Promise<string> {
  const r = await exchange(agent, edge, scope);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.access_token;
}
export async function atGateway(mandate: string): Promise<{ status: number; description: string | undefined }> {
  const r = await fetch(`${s.gateway.url}/${p.resource.slice('resource://'.length)}/items`, { headers: { authorization: `Bearer ${mandate}` } });
  return { status: r.status, description: ((await r.json()) as { error_description?: string }).error_description };
}
/** The gateway's own revocation cache answered (the STS behind it would say `denied: lineage_revoked`). */
export const OWN_DENIAL = 'the mandate lineage is revoked';
export const refusedAsRevoked = (r: { status: number; description: string | undefined }) => r.status === 401 && [OWN_DENIAL, 'denied: lineage_revoked'].includes(r.description ?? '');

export async function eventually(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
export const revocationRows = async (ids: string[]) =>
  (await adminQuery<{ target_type: string; target_id: string; revoked_by: string }>(s.db.adminUrl, 'SELECT target_type, target_id, revoked_by FROM caracal.revocations WHERE target_id = ANY ($1::uuid[])', [ids])).rows;
export const announced = async (ids: string[]) => {
  const entries = await redis.xrange(`${s.prefix}${STREAMS.sessionsRevoke}`, '-', '+');
  return entries.map(([, f]) => f[f.indexOf('target_id') + 1]!).filter((id) => ids.includes(id));
};

