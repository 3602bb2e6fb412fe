// `caracal delegation …` against a managed stack (`caracal init` + `caracal up`, R-CO-1): two sessions of one
// application and a third of another; create (active at once within the application, pending across), accept,
// decline, delegate further, traverse (chain and subtree), revoke (the subtree goes with it), list pages through the
// CLI with --json;
// refusals are exit 2 for a bad flag and exit 1 naming the coordinator's reason. A mandate minted below a revoked edge is
// denied at the gateway and nothing below it exchanges again.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEvidenceStack, type EvidenceStack } from '../../../../test-support/evidence-stack.js';

let stack: EvidenceStack;
let planner: string;
let reviewer: string;
let reviewerClient: { client_id: string; client_secret: string };

async function json(args: string[]): Promise<any> {
  const r = await stack.cli([...args, '--json']);
  if (r.exitCode !== 0) throw new Error(`caracal ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const session = async (app: string) => (await json(['agent', 'start', '--zone', 'deleg', '--application', app, '--ttl', '600'])).id as string;

beforeAll(async () => {
  stack = await startEvidenceStack('delegation-cli');
  await json(['zone', 'create', 'deleg', '--name', 'Delegation']);
  planner = (await json(['app', 'create', '--zone', 'deleg', '--name', 'planner'])).id;
  const reviewerApp = await json(['app', 'create', '--zone', 'deleg', '--name', 'reviewer']);
  reviewer = reviewerApp.id;
  reviewerClient = { client_id: reviewerApp.client_id, client_secret: reviewerApp.client_secret };
  const credFile = join(mkdtempSync(join(tmpdir(), 'deleg-cred-')), 'credential');
  writeFileSync(credFile, 'upstream-credential\n');
  await json(['resource', 'create', '--zone', 'deleg', '--id', 'resource://items-api', '--upstream', 'https://items.example', '--credential-file', credFile, '--operation', 'GET /items*=items:read', '--operation', 'POST /items=items:write']);
  await json(['grant', 'create', '--zone', 'deleg', '--app', planner, '--resource', 'resource://items-api', '--scopes', 'items:read,items:write']);
  await json(['grant', 'create', '--zone', 'deleg', '--app', reviewer, '--resource', 'resource://items-api', '--scopes', 'items:read']);
}, 180_000);

/** A token exchange at the STS by the reviewer application, acting as agent session `agent` over edge `edge`. */
async function exchangeAs(agent: string, edge: string): Promise<{ status: number; body: any }> {
  const sts = `http://127.0.0.1:${stack.ports.sts}/oauth/2/token`;
  const form = async (f: Record<string, string>) => {
    const r = await fetch(sts, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(f) });
    return { status: r.status, body: (await r.json()) as any };
  };
  const boot = await form({ grant_type: 'client_credentials', ...reviewerClient });
  expect(boot.status, JSON.stringify(boot.body)).toBe(200);
  return form({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: boot.body.access_token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    resource: 'resource://items-api',
    scope: 'items:read',
    agent_session_id: agent,
    delegation_edge_id: edge,
  });
}
afterAll(async () => stack?.stop(), 60_000);

describe('caracal delegation', () => {
  it('create → accept → delegate further → traverse → revoke cuts the subtree', async () => {
    const [a, b] = [await session(planner), await session(planner)];
    const c = await session(reviewer);
    const e1 = await json(['delegation', 'create', '--zone', 'deleg', '--source', a, '--target', b, '--scopes', 'items:read,items:write', '--ttl', '300']);
    expect(e1).toMatchObject({ source_session_id: a, target_session_id: b, hop_count: 1, status: 'active', scopes: ['items:read', 'items:write'] });
    const e2 = await json(['delegation', 'create', '--zone', 'deleg', '--source', b, '--target', c, '--scopes', 'items:read', '--ttl', '200']);
    expect(e2).toMatchObject({ parent_edge_id: e1.id, hop_count: 2, status: 'pending' });
    // Until the reviewer accepts, the STS treats the edge as unknown: no consent, no authority.
    const pending = await exchangeAs(c, e2.id);
    expect(pending.status, JSON.stringify(pending.body)).toBe(403);
    expect(pending.body.error_description).toContain('unknown delegation edge');
    expect((await json(['delegation', 'accept', e2.id, '--zone', 'deleg'])).status).toBe('active');
    const minted = await exchangeAs(c, e2.id);
    expect(minted.status, JSON.stringify(minted.body)).toBe(200);

    const t = await json(['delegation', 'traverse', e1.id, '--zone', 'deleg']);
    expect(t.chain.map((e: any) => e.id)).toEqual([e1.id]);
    expect(t.subtree.map((e: any) => e.id)).toEqual([e2.id]);
    expect((await json(['delegation', 'list', '--zone', 'deleg', '--session', b])).items.map((e: any) => e.id)).toEqual([e1.id, e2.id]);
    const human = await stack.cli(['delegation', 'traverse', e2.id, '--zone', 'deleg']);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toContain('chain (root first):');

    const revoked = await json(['delegation', 'revoke', e1.id, '--zone', 'deleg']);
    expect(revoked).toMatchObject({ id: e1.id, status: 'revoked', revoked: 2, descendants_revoked: [e2.id] });
    expect((await json(['delegation', 'get', e2.id, '--zone', 'deleg'])).status).toBe('revoked');
    // The mandate minted below the revoked edge is denied at the gateway, and nothing below it exchanges again.
    const gw = await fetch(`http://127.0.0.1:${stack.ports.gateway}/items-api/items`, { headers: { authorization: `Bearer ${minted.body.access_token}` } });
    expect(gw.status).toBe(401);
    expect(((await gw.json()) as any).error_description).toMatch(/^(the mandate lineage is revoked|denied: lineage_revoked)$/);
    expect(await exchangeAs(c, e2.id)).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: `delegation '${e1.id}' of the chain is revoked (delegation_revoked)` } });
  });

  it('decline: the pending delegation is never usable; declining or accepting it again is exit 1 naming its state', async () => {
    const a = await session(planner);
    const c = await session(reviewer);
    const e = await json(['delegation', 'create', '--zone', 'deleg', '--source', a, '--target', c, '--scopes', 'items:read', '--ttl', '120']);
    expect(e.status).toBe('pending');
    const declined = await json(['delegation', 'decline', e.id, '--zone', 'deleg', '--idempotency-key', `decline-${e.id}`]);
    expect(declined).toMatchObject({ id: e.id, status: 'declined', accepted_at: null });
    expect(declined.declined_at).toEqual(expect.any(String));
    // The same key replays the stored answer rather than refusing a second decline.
    expect(await json(['delegation', 'decline', e.id, '--zone', 'deleg', '--idempotency-key', `decline-${e.id}`])).toEqual(declined);
    const again = await stack.cli(['delegation', 'decline', e.id, '--zone', 'deleg']);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain(`409 delegation_declined: delegation '${e.id}' is declined; only a pending delegation can be declined`);
    const accept = await stack.cli(['delegation', 'accept', e.id, '--zone', 'deleg']);
    expect(accept.exitCode).toBe(1);
    expect(accept.stderr).toContain('409 delegation_declined');
    const refused = await exchangeAs(c, e.id);
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.error_description).toContain('unknown delegation edge');
    const human = await stack.cli(['delegation', 'get', e.id, '--zone', 'deleg']);
    expect(human.stdout).toMatch(/^status: declined$/m);
    const badId = await stack.cli(['delegation', 'decline', 'nope', '--zone', 'deleg']);
    expect(badId.exitCode).toBe(2);
    expect(badId.stderr).toContain('<delegation-id> must be a UUID');
    const help = await stack.cli(['delegation', '--help']);
    expect(help.stdout).toMatch(/decline \[options\] <delegation-id>\s+decline a pending delegation/);
  });

  it('list pages with --limit and --cursor; a forged cursor is exit 1 naming it', async () => {
    const a = await session(planner);
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await json(['delegation', 'create', '--zone', 'deleg', '--source', a, '--target', await session(planner), '--scopes', 'items:read', '--ttl', '60'])).id);
    const p1 = await json(['delegation', 'list', '--zone', 'deleg', '--session', a, '--limit', '2']);
    expect(p1.items.map((x: any) => x.id)).toEqual(made.slice(0, 2));
    const p2 = await json(['delegation', 'list', '--zone', 'deleg', '--session', a, '--limit', '2', '--cursor', p1.next_cursor]);
    expect(p2).toMatchObject({ items: [{ id: made[2] }], next_cursor: null });
    const human = await stack.cli(['delegation', 'list', '--zone', 'deleg', '--session', a, '--limit', '2']);
    expect(human.stderr).toContain(`more: --cursor ${p1.next_cursor}`);
    const forged = await stack.cli(['delegation', 'list', '--zone', 'deleg', '--cursor', 'abc']);
    expect(forged.exitCode).toBe(1);
    expect(forged.stderr).toContain('400 invalid_request: cursor: is not a cursor this service issued');
    expect((await stack.cli(['delegation', 'list', '--zone', 'deleg', '--limit', '0'])).exitCode).toBe(2);
  });

  it('refusals: a bad flag is exit 2 naming it; a refused delegation is exit 1 naming the reason', async () => {
    const [a, b] = [await session(planner), await session(planner)];
    const noTtl = await stack.cli(['delegation', 'create', '--zone', 'deleg', '--source', a, '--target', b, '--scopes', 'items:read']);
    expect(noTtl.exitCode).toBe(2);
    expect(noTtl.stderr).toContain('exactly one of --ttl and --expires-at is required');
    const badId = await stack.cli(['delegation', 'get', 'nope', '--zone', 'deleg']);
    expect(badId.exitCode).toBe(2);
    expect(badId.stderr).toContain('<delegation-id> must be a UUID');
    const wider = await stack.cli(['delegation', 'create', '--zone', 'deleg', '--source', a, '--target', b, '--scopes', 'items:delete', '--ttl', '60']);
    expect(wider.exitCode).toBe(1);
    expect(wider.stderr).toContain(`409 delegation_scope_exceeded: scopes beyond what application '${planner}' is granted: items:delete`);
    const self = await stack.cli(['delegation', 'create', '--zone', 'deleg', '--source', a, '--target', a, '--scopes', 'items:read', '--ttl', '60']);
    expect(self.exitCode).toBe(1);
    expect(self.stderr).toContain('400 invalid_request: target_session_id: a session cannot delegate to itself');
    await json(['delegation', 'create', '--zone', 'deleg', '--source', a, '--target', b, '--scopes', 'items:read', '--ttl', '60']);
    const cycle = await stack.cli(['delegation', 'create', '--zone', 'deleg', '--source', b, '--target', a, '--scopes', 'items:read', '--ttl', '30']);
    expect(cycle.exitCode).toBe(1);
    expect(cycle.stderr).toContain('409 delegation_cycle');
  });
});
