// The dry run of a decision through the api (R-POL-1, R-POL-3) with sets compiled from real Rego by the real opa:
// the contract and the zone's active sets evaluate one decision input, every set answers even when the contract
// denies, a set narrows what the contract allows and never widens it, a set that cannot be evaluated is an error in
// the answer (never a 500), `?set=NAME@VERSION` evaluates a version before it is activated; bad input is a 400
// naming the field, an unknown zone a 404, and nothing is written.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorityStack, type AuthorityStack } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { buildBundle, policyDir } from '../../../../test-support/opa.js';

const LABELLED = 'package caracal\n\ndefault allow := false\n\nallow if "payments" in input.principal.labels\n';
const EVERYTHING = 'package caracal\n\nallow := true\n';
// Exhausts the module's memory on any input with a requested scope: stored as failed, never activated.
const HUNGRY = 'package caracal\n\nallow if count(numbers.range(1, count(input.context.requested_scopes) * 10000000)) > 0\n';

let s: AuthorityStack;
const work = policyDir('simulate');

const mint = (labels: string[], requested = ['payments:read']) => ({
  schema_version: 1,
  principal: { type: 'application', id: 'app-1', agent_session_id: null, labels },
  resource: { id: 'res-1', identifier: 'https://payments.example', scopes: ['payments:read'] },
  action: { id: 'mint' },
  session: null,
  delegation_edge: null,
  context: { requested_scopes: requested, request_id: 'req-1' },
});
const simulate = (body: unknown, query = '', zone = 'north') => s.admin('POST', `/v1/zones/${zone}/policy-sets/simulate${query}`, body);
const writes = async () => Number((await adminQuery<{ n: string }>(s.db.adminUrl, 'SELECT (SELECT count(*) FROM caracal.admin_audit_events) + (SELECT count(*) FROM caracal.policy_set_versions) AS n')).rows[0]!.n);

async function uploadVersion(set: string, source: string): Promise<{ version: number; self_test: { status: string } }> {
  work.write({ [`${set}/policy.rego`]: source });
  const built = await buildBundle(join(work.dir, set), join(work.dir, `${set}.tar.gz`));
  const r = await s.admin('POST', `/v1/zones/north/policy-sets/${set}/versions`, { rego_source: source, bundle: built.bytes.toString('base64'), bundle_sha256: built.sha256 });
  expect(r.status).toBe(201);
  return r.body;
}

beforeAll(async () => {
  s = await startAuthorityStack('polsim', {}, { apiEnv: { API_RATE_PER_MIN: '10000' } });
  await s.admin('POST', '/v1/zones', { slug: 'north', name: 'North' });
  for (const set of ['payments', 'hungry', 'everything']) expect((await s.admin('POST', '/v1/zones/north/policy-sets', { name: set })).status).toBe(201);
  await uploadVersion('payments', LABELLED);
  expect((await uploadVersion('hungry', HUNGRY)).self_test.status).toBe('failed');
  await uploadVersion('everything', EVERYTHING);
}, 240_000);
afterAll(async () => {
  await s?.stop();
  work.remove();
});

describe('simulate', () => {
  it('with no active set, the contract alone decides', async () => {
    const r = await simulate(mint([]));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ decision: 'allow', reason: 'granted', evaluation_status: 'complete', contract: { decision: 'allow', reason: 'granted' }, sets: [] });
  });

  it('a set narrows a contract allow to deny; with the label it allows', async () => {
    expect((await s.admin('POST', '/v1/zones/north/policy-sets/payments/activate', { version: 1 })).status).toBe(200);
    const before = await writes();
    const denied = await simulate(mint(['ops']));
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({
      decision: 'deny',
      reason: 'policy_denied',
      determining_policies: ['payments@v1'],
      contract: { decision: 'allow', reason: 'granted', evaluation_status: 'complete' },
      sets: [{ policy: 'payments@v1', decision: 'deny', evaluation_status: 'complete' }],
    });
    const allowed = await simulate(mint(['payments']));
    expect(allowed.body).toMatchObject({ decision: 'allow', reason: 'granted', determining_policies: ['caracal.contract', 'payments@v1'], sets: [{ policy: 'payments@v1', decision: 'allow' }] });
    // Nothing is minted, audited or stored by a dry run.
    expect(await writes()).toBe(before);
  });

  it('every set answers when the contract denies, and a set that allows everything widens nothing', async () => {
    const r = await simulate(mint(['payments'], ['payments:write']), '?set=everything@1');
    expect(r.body).toMatchObject({
      decision: 'deny',
      reason: 'role_scope_mismatch',
      contract: { decision: 'deny', reason: 'role_scope_mismatch' },
      sets: [
        { policy: 'everything@v1', decision: 'allow', evaluation_status: 'complete' },
        { policy: 'payments@v1', decision: 'allow', evaluation_status: 'complete' },
      ],
    });
  });

  it('--set evaluates a stored version in place of the active one; a set that fails evaluation is an error that denies', async () => {
    const candidate = await simulate(mint(['ops']), '?set=everything@1');
    expect(candidate.body.sets.map((x: { policy: string; decision: string }) => `${x.policy}:${x.decision}`)).toEqual(['everything@v1:allow', 'payments@v1:deny']);
    const hungry = await simulate(mint(['payments']), '?set=hungry@1');
    expect(hungry.status).toBe(200);
    expect(hungry.body).toMatchObject({ decision: 'deny', reason: 'policy_error', evaluation_status: 'error', determining_policies: ['hungry@v1'], contract: { decision: 'allow' } });
    expect(hungry.body.sets).toEqual([
      expect.objectContaining({ policy: 'hungry@v1', decision: 'deny', evaluation_status: 'error', diagnostics: [expect.any(String)] }),
      expect.objectContaining({ policy: 'payments@v1', decision: 'allow' }),
    ]);
  });

  it('a stored bundle that does not load is an error in the answer, not a 500', async () => {
    await adminQuery(
      s.db.adminUrl,
      `INSERT INTO caracal.policy_set_versions (zone_id, policy_set_id, version, rego_source, wasm_bundle, bundle_sha256, entrypoint, created_by)
       SELECT zone_id, id, 9, 'package caracal', '\\x00'::bytea, repeat('0', 64), 'caracal/allow', 'sql' FROM caracal.policy_sets WHERE name = 'everything'`,
    );
    const r = await simulate(mint(['payments']), '?set=everything@9');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ decision: 'deny', reason: 'policy_error', sets: [{ policy: 'everything@v9', decision: 'deny', evaluation_status: 'error' }, { policy: 'payments@v1' }] });
  });
});

describe('capability', () => {
  it('a read-only token simulates; a token of another zone gets 403', async () => {
    await s.admin('POST', '/v1/zones', { slug: 'south', name: 'South' });
    const as = async (name: string, extra: Record<string, unknown>) => {
      const token = (await s.admin('POST', '/v1/admin-tokens', { name, capabilities: ['read'], ...extra })).body.token as string;
      return fetch(`${s.api.url}/v1/zones/north/policy-sets/simulate`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(mint(['payments'])) });
    };
    const reader = await as('reader', { scope: 'global' });
    expect(reader.status).toBe(200);
    expect(((await reader.json()) as { decision: string }).decision).toBe('allow');
    expect((await as('south-reader', { scope: 'zone', zone: 'south' })).status).toBe(403);
  });
});

describe('bad input', () => {
  it.each([
    ['no principal.id', { ...mint([]), principal: { labels: [] } }, 'body.principal'],
    ['an unknown action', { ...mint([]), action: { id: 'delete' } }, 'body.action.id'],
    ['requested_scopes not an array', { ...mint([]), context: { requested_scopes: 'payments:read' } }, 'requested_scopes'],
    ['a label that is not a string', mint([7 as never]), 'labels'],
    ['an array', [mint([])], 'body'],
  ])('%s → 400 naming the field', async (_what, body, field) => {
    const r = await simulate(body);
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain(field);
  });

  it('malformed JSON → 400; an input over the size limit → 413', async () => {
    const post = (body: string) => fetch(`${s.api.url}/v1/zones/north/policy-sets/simulate`, { method: 'POST', headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json' }, body });
    expect((await post('{"principal": ')).status).toBe(400);
    expect((await post(JSON.stringify({ ...mint([]), pad: 'x'.repeat(100 * 1024) }))).status).toBe(413);
  });

  it('unknown zone, unknown version → 404; a malformed --set → 400', async () => {
    expect((await simulate(mint([]), '', 'nowhere')).status).toBe(404);
    expect((await simulate(mint([]), '?set=payments@7')).status).toBe(404);
    expect((await simulate(mint([]), '?set=payments')).status).toBe(400);
  });
});
