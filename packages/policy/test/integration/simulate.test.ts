// The dry run of a decision (`caracal policy simulate`): the built-in contract and real policy sets (Rego compiled by
// the real opa) on one decision input, nothing minted; the same reading of a set's answer as the STS's.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate, SimulationInputError, type DecisionInput, type SimulatedSet } from '../../dist/index.js';
import { buildBundle, policyDir, requireOpa } from '../../../../test-support/opa.js';

const work = policyDir('simulate');
let built = 0;
async function set(name: string, rego: string, version = 1): Promise<SimulatedSet> {
  const dir = `p${++built}`;
  work.write({ [`${dir}/policy.rego`]: rego });
  const b = await buildBundle(join(work.dir, dir), join(work.dir, `${dir}.tar.gz`));
  return { name, version, bundle: b.bytes, sha256: b.sha256, entrypoint: 'caracal/allow' };
}

const input = (scopes: string[], over: Partial<DecisionInput> = {}): DecisionInput => ({
  schema_version: 1,
  principal: { type: 'application', id: 'app-1', zone_id: 'zone-1', agent_session_id: null, labels: ['payments'] },
  resource: { id: 'res-1', identifier: 'resource://payouts', scopes: ['payouts:read', 'payouts:send'] },
  action: { id: 'mint' },
  session: { id: 'sess-1', expires_at: '2100-01-01T00:00:00Z' },
  delegation_edge: null,
  context: { requested_scopes: scopes, request_id: 'req-1' },
  ...over,
});

const AFTER_HOURS = `package caracal

default allow := {"allow": true}

allow := {"allow": false, "reasons": ["payouts:send is refused after 18:00 UTC"]} if {
	"payouts:send" in input.context.requested_scopes
	input.context.time.utc.hour >= 18
}
`;

let afterHours: SimulatedSet;
let allowAll: SimulatedSet;
beforeAll(async () => {
  requireOpa();
  afterHours = await set('after-hours', AFTER_HOURS);
  allowAll = await set('allow-all', 'package caracal\n\nallow := true\n');
});
afterAll(() => work.remove());

describe('simulate', () => {
  it('allows when the contract and every set allow, naming them', async () => {
    const r = await simulate(input(['payouts:send']), [afterHours, allowAll], { now: new Date('2026-12-03T10:00:00Z') });
    expect(r).toMatchObject({ decision: 'allow', reason: 'granted', evaluation_status: 'complete', determining_policies: ['caracal.contract', 'after-hours@v1', 'allow-all@v1'] });
  });

  it('denies with the set and its reason; the time comes from `now` or from the input', async () => {
    const at = await simulate(input(['payouts:send']), [afterHours], { now: new Date('2026-12-03T19:30:00Z') });
    expect(at).toMatchObject({ decision: 'deny', reason: 'policy_denied', evaluation_status: 'complete', determining_policies: ['after-hours@v1'], diagnostics: ['after-hours@v1: payouts:send is refused after 18:00 UTC'] });
    const given = input(['payouts:send']);
    (given.context as Record<string, unknown>).time = { rfc3339: '2026-12-03T20:00:00Z', unix_seconds: 1796328000, utc: { hour: 20, minute: 0, weekday: 4 } };
    expect((await simulate(given, [afterHours], { now: new Date('2026-12-03T10:00:00Z') })).reason).toBe('policy_denied');
  });

  it('a set that allows everything widens nothing the contract denies; every set is still reported', async () => {
    const r = await simulate(input(['payouts:delete']), [allowAll]);
    expect(r).toMatchObject({ decision: 'deny', reason: 'role_scope_mismatch', determining_policies: ['caracal.contract'] });
    expect(r.sets).toEqual([{ set: 'allow-all@v1', status: 'complete', allow: true, diagnostics: [], stepUp: [] }]);
  });

  it('a bundle that does not match its SHA-256, a missing entrypoint or a failing module is an error that denies', async () => {
    const tampered = { ...allowAll, sha256: createHash('sha256').update('other').digest('hex') };
    expect(await simulate(input(['payouts:read']), [tampered])).toMatchObject({ decision: 'deny', reason: 'policy_error', evaluation_status: 'error', diagnostics: ['allow-all@v1: the bundle does not match its SHA-256'] });
    expect((await simulate(input(['payouts:read']), [{ ...allowAll, entrypoint: 'caracal/other' }])).diagnostics).toEqual(['allow-all@v1: the bundle has no entrypoint caracal/other']);
    const hog = await set('hog', 'package caracal\n\nallow if count(numbers.range(1, input.context.time.unix_seconds)) > 0\n');
    expect(await simulate(input(['payouts:read']), [hog])).toMatchObject({ decision: 'deny', reason: 'policy_error', diagnostics: ['hog@v1: policy evaluation failed: opa_malloc: failed'] });
  });

  it('step_up scopes are reported', async () => {
    const gate = await set('gate', 'package caracal\n\nallow := {"allow": true, "step_up": ["payouts:send"]}\n');
    expect((await simulate(input(['payouts:send']), [gate])).step_up).toEqual(['payouts:send']);
  });

  it('refuses an input the contract cannot read', async () => {
    await expect(simulate({ principal: { id: 'a' } }, [])).rejects.toThrow(SimulationInputError);
    await expect(simulate([], [])).rejects.toThrow('the decision input needs to be a JSON object');
    await expect(simulate(input(['x'], { action: {} as DecisionInput['action'] }), [])).rejects.toThrow(/action\.id/);
  });
});
