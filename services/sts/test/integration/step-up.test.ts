// Step-up approvals (R-STS-5): an approval-gated scope answers 401 interaction_required with an approval_id; an
// approver decides; the retry with approval_id succeeds exactly once, and only for the request that was approved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, EXCHANGE, startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';

let s: AuthorityStack;
let p: Provisioned;
let session: string;

beforeAll(async () => {
  s = await startAuthorityStack('stepup');
  p = await s.provision('vault', { scopes: ['items:read'] });
  // A second grant on the same zone with a gated scope.
  await s.admin('POST', '/v1/zones/vault/resources', { identifier: 'resource://payouts', upstream_url: s.upstream.url, credential: 'c', operations: [{ method: '*', path: '/*', scope: 'payouts:send' }] });
  const g = await s.admin('POST', '/v1/zones/vault/grants', { application: p.clientId, resource: 'resource://payouts', scopes: ['payouts:read', 'payouts:send'], approval_scopes: ['payouts:send'] });
  expect(g.status).toBe(201);
  expect(g.body.approval_scopes).toEqual(['payouts:send']);
  session = await s.session(p);
});
afterAll(() => s.stop());

const ask = (scope: string, approvalId?: string) =>
  s.token({ grant_type: EXCHANGE, subject_token: session, subject_token_type: ACCESS, resource: 'resource://payouts', scope, ...(approvalId ? { approval_id: approvalId } : {}) });

describe('step-up', () => {
  it('ungated scopes of the same grant need no approval', async () => {
    expect((await ask('payouts:read')).status).toBe(200);
  });

  it('pending → approved → minted once → consumed', async () => {
    const first = await ask('payouts:send');
    expect(first.status).toBe(401);
    expect(first.body).toMatchObject({ error: 'interaction_required', approval_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const id = first.body.approval_id as string;

    const pending = await ask('payouts:send', id);
    expect(pending.status).toBe(401);
    expect(pending.body).toMatchObject({ error: 'interaction_required', error_description: 'the approval is still pending', approval_id: id });

    const listed = await s.admin('GET', '/v1/zones/vault/approvals?status=pending');
    expect(listed.body.items.map((a: { id: string }) => a.id)).toContain(id);
    const approved = await s.admin('POST', `/v1/zones/vault/approvals/${id}/approve`);
    expect(approved.body).toMatchObject({ status: 'approved', decided_by: 'bootstrap' });

    const minted = await ask('payouts:send', id);
    expect(minted.status).toBe(200);
    expect(JSON.parse(Buffer.from(minted.body.access_token.split('.')[1], 'base64url').toString()).scope).toBe('payouts:send');

    const replay = await ask('payouts:send', id);
    expect(replay.status).toBe(400);
    expect(replay.body).toEqual({ error: 'invalid_grant', error_description: 'this approval was already used' });
    expect((await s.admin('POST', `/v1/zones/vault/approvals/${id}/approve`)).status).toBe(409);
    const events = await s.auditEvents();
    expect(events.some((e) => e.type === 'approval.approved' && e.subject === `approval:${id}`)).toBe(true);
    expect(events.some((e) => e.type === 'mandate.issued' && e.data?.approval_id === id)).toBe(true);
  });

  it('a rejected approval denies with 403', async () => {
    const id = (await ask('payouts:send')).body.approval_id;
    expect((await s.admin('POST', `/v1/zones/vault/approvals/${id}/reject`)).body.status).toBe('rejected');
    expect(await ask('payouts:send', id)).toMatchObject({ status: 403, body: { error: 'access_denied', error_description: 'the approver rejected this request' } });
  });

  it('an approval for other scopes does not fit this request', async () => {
    const id = (await ask('payouts:send')).body.approval_id;
    await s.admin('POST', `/v1/zones/vault/approvals/${id}/approve`);
    expect(await ask('payouts:send payouts:read', id)).toMatchObject({ status: 400, body: { error_description: 'approval_id does not match this request' } });
    expect((await ask('payouts:send', id)).status).toBe(200);
  });

  it('an expired approval is refused, and cannot be approved late', async () => {
    const id = (await ask('payouts:send')).body.approval_id;
    await adminQuery(s.db.adminUrl, "UPDATE caracal.approvals SET expires_at = now() - interval '1 second' WHERE id = $1", [id]);
    expect(await s.admin('POST', `/v1/zones/vault/approvals/${id}/approve`)).toMatchObject({ status: 409, body: { error_description: 'the approval has expired' } });
    expect(await ask('payouts:send', id)).toMatchObject({ status: 400, body: { error_description: 'this approval has expired' } });
  });

  it('deciding needs the approve capability', async () => {
    const id = (await ask('payouts:send')).body.approval_id;
    const writer = await s.admin('POST', '/v1/admin-tokens', { name: 'writer', scope: 'global', capabilities: ['read', 'write'] });
    const res = await fetch(`${s.api.url}/v1/zones/vault/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${writer.body.token}` } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error_description).toBe("this admin token lacks the 'approve' capability");
  });

  it('approval_scopes must be granted scopes', async () => {
    const res = await s.admin('POST', '/v1/zones/vault/grants', { application: p.clientId, resource: p.resource.replace('resource://', ''), scopes: ['a'], approval_scopes: ['b'] });
    expect(res).toMatchObject({ status: 400, body: { error_description: 'approval_scopes must be granted scopes: b is not in scopes' } });
  });
});
