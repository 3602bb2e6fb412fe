// The delegation journey end to end on a managed stack (`caracal init` + `caracal up`, R-CO-1, R-STS-6, R-GW-1):
// an application bootstraps a session mandate (agent:lifecycle) and starts its planner agent session at the
// coordinator with it; the worker's session is started by the operator through the CLI; the planner delegates to
// the worker (another application, so the worker's consent is an accept); the worker exchanges at the STS with
// agent_session_id + delegation_edge_id and calls the upstream through the gateway; `caracal delegation revoke`
// then denies that mandate at the gateway and refuses any new exchange over the edge.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, EXCHANGE, startUpstream, type UpstreamControl } from '../../../../test-support/authority.js';
import { startEvidenceStack, type EvidenceStack } from '../../../../test-support/evidence-stack.js';
import { decodePayload } from '../../../../test-support/forge.js';

const RESOURCE = 'resource://items-api';
const CREDENTIAL = 'journey-upstream-credential';

let stack: EvidenceStack;
let upstream: UpstreamControl;
type Client = { id: string; client_id: string; client_secret: string };
let planner: Client;
let worker: Client;

async function json(args: string[]): Promise<any> {
  const r = await stack.cli([...args, '--json']);
  if (r.exitCode !== 0) throw new Error(`caracal ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const url = (service: string, path: string) => `http://127.0.0.1:${stack.ports[service]}${path}`;

async function token(form: Record<string, string>): Promise<{ status: number; body: any }> {
  const r = await fetch(url('sts', '/oauth/2/token'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  return { status: r.status, body: await r.json() };
}
async function bootstrap(c: Client): Promise<string> {
  const r = await token({ grant_type: 'client_credentials', client_id: c.client_id, client_secret: c.client_secret });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.access_token;
}
const exchange = (subject: string, agent: string, edge: string, scope = 'items:read') =>
  token({ grant_type: EXCHANGE, subject_token: subject, subject_token_type: ACCESS, resource: RESOURCE, scope, agent_session_id: agent, delegation_edge_id: edge });
async function gateway(mandate: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url('gateway', '/items-api/items'), { headers: { authorization: `Bearer ${mandate}` } });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  upstream = await startUpstream();
  stack = await startEvidenceStack('deleg-journey');
  await json(['zone', 'create', 'journey', '--name', 'Journey']);
  planner = await json(['app', 'create', '--zone', 'journey', '--name', 'planner']);
  worker = await json(['app', 'create', '--zone', 'journey', '--name', 'worker']);
  const credFile = join(mkdtempSync(join(tmpdir(), 'journey-cred-')), 'credential');
  writeFileSync(credFile, `${CREDENTIAL}\n`);
  await json(['resource', 'create', '--zone', 'journey', '--id', RESOURCE, '--upstream', upstream.url, '--credential-file', credFile, '--operation', 'GET /items*=items:read', '--operation', 'POST /items=items:write']);
  await json(['grant', 'create', '--zone', 'journey', '--app', planner.id, '--resource', RESOURCE, '--scopes', 'items:read,items:write']);
  await json(['grant', 'create', '--zone', 'journey', '--app', worker.id, '--resource', RESOURCE, '--scopes', 'items:read,items:write']);
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  await upstream?.close();
}, 60_000);

describe('delegation journey', () => {
  it('bootstrap → agent sessions → delegate → delegated mint → gateway 200 → revoke → gateway denies, no new exchange', async () => {
    // 1. The planner application bootstraps and starts its own agent session with its session mandate.
    const plannerMandate = await bootstrap(planner);
    expect(decodePayload(plannerMandate)).toMatchObject({ use: 'session', scope: 'agent:lifecycle' });
    const started = await fetch(url('coordinator', '/v1/agents'), {
      method: 'POST',
      headers: { authorization: `Bearer ${plannerMandate}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttl_seconds: 600 }),
    });
    const plannerSession = (await started.json()) as any;
    expect(started.status, JSON.stringify(plannerSession)).toBe(201);
    expect(plannerSession).toMatchObject({ application_id: planner.id, status: 'active', depth: 0 });
    // The worker's session is started by the operator through the CLI.
    const workerSession = await json(['agent', 'start', '--zone', 'journey', '--application', worker.id, '--ttl', '600']);
    expect(workerSession).toMatchObject({ application_id: worker.id, status: 'active' });
    expect((await json(['agent', 'get', plannerSession.id, '--zone', 'journey'])).status).toBe('active');

    // 2. The planner delegates items:read to the worker; across applications the worker's consent makes it active.
    const edge = await json(['delegation', 'create', '--zone', 'journey', '--source', plannerSession.id, '--target', workerSession.id, '--scopes', 'items:read', '--ttl', '300']);
    expect(edge).toMatchObject({ source_session_id: plannerSession.id, target_session_id: workerSession.id, hop_count: 1, status: 'pending', scopes: ['items:read'] });
    expect((await json(['delegation', 'accept', edge.id, '--zone', 'journey'])).status).toBe('active');

    // 3. The worker exchanges over the edge: scopes within the edge, exp within the edge, the chain and the actor named.
    const workerMandate = await bootstrap(worker);
    const minted = await exchange(workerMandate, workerSession.id, edge.id);
    expect(minted.status, JSON.stringify(minted.body)).toBe(200);
    const claims = decodePayload(minted.body.access_token);
    expect(claims).toMatchObject({ use: 'gateway', aud: RESOURCE, scope: 'items:read', sub: plannerSession.id, agent_session_id: workerSession.id, delegation_edge_id: edge.id, delegation_chain: [edge.id], hop_count: 1 });
    // RFC 8693: the worker acts (the current actor) on the planner's authority (the subject).
    expect(claims.act).toEqual({ sub: workerSession.id });
    expect(claims.exp).toBeLessThanOrEqual(Math.floor(Date.parse(edge.expires_at) / 1000));
    // Asking beyond the edge is refused even though the worker's own grant holds items:write.
    const wider = await exchange(workerMandate, workerSession.id, edge.id, 'items:read items:write');
    expect(wider.status).toBe(403);
    expect(wider.body.error).toBe('access_denied');

    // 4. Through the gateway to the upstream, with the resource's credential injected.
    const ok = await gateway(minted.body.access_token);
    expect(ok, JSON.stringify(ok.body)).toMatchObject({ status: 200, body: { ok: true, url: '/items' } });
    expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${CREDENTIAL}`);
    // Gateway mandates are single use: the call after the revoke needs one of its own, minted now.
    const minted2 = await exchange(workerMandate, workerSession.id, edge.id);
    expect(minted2.status, JSON.stringify(minted2.body)).toBe(200);
    const fresh = [minted2.body.access_token as string];

    // 5. The operator revokes the edge through the CLI.
    const revoked = await json(['delegation', 'revoke', edge.id, '--zone', 'journey']);
    expect(revoked).toMatchObject({ id: edge.id, status: 'revoked', revoked: 1 });
    expect((await json(['delegation', 'list', '--zone', 'journey', '--session', workerSession.id])).items).toEqual([expect.objectContaining({ id: edge.id, status: 'revoked' })]);

    // 6. No new exchange over the revoked edge.
    const again = await exchange(workerMandate, workerSession.id, edge.id);
    expect(again.status, JSON.stringify(again.body)).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
    expect(again.body.access_token).toBeUndefined();
    expect(again.body.error_description).toMatch(/revoked/);

    // 7. The mandate minted over the edge is denied at the gateway at once: the revoke answered after its record
    // committed and its `caracal.sessions.revoke` message was published, and the gateway's own cache or the STS's
    // check of the lineage behind it refuses every mandate whose chain names the edge.
    const r = await gateway(fresh[0]!);
    expect(r.status, JSON.stringify(r.body)).toBe(401);
    expect(r.body.error).toBe('invalid_token');
    expect(['the mandate lineage is revoked', 'denied: lineage_revoked']).toContain(r.body.error_description);
  });
});
