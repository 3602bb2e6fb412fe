// `caracal policy create|upload|list|get|activate|deactivate|simulate` against a managed stack (`caracal init` +
// `caracal up`, R-POL-3): Rego compiled by the real opa and uploaded with its source and SHA-256, a built bundle
// uploaded as it is, activation and deactivation with --json; a version that fails its self-test, an unknown set, Rego
// that does not compile and bad arguments exit 1 or 2 with the reason. `simulate` prints the contract, each set and
// the final decision, and exits 0 on allow, 1 on deny, 2 on a missing or unreadable --input.
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEvidenceStack, type EvidenceStack } from '../../../../test-support/evidence-stack.js';
import { buildBundle, policyDir, requireOpa } from '../../../../test-support/opa.js';

const LABELLED = 'package caracal\n\ndefault allow := false\n\nallow if "payments" in input.principal.labels\n';
const STEP_UP = 'package caracal.gate\n\nstep_up if "payments:write" in input.context.requested_scopes\n';
const HUNGRY = 'package caracal\n\nallow if count(numbers.range(1, count(input.context.requested_scopes) * 10000000)) > 0\n';

let stack: EvidenceStack;
const work = policyDir('cli');

async function json(args: string[]): Promise<any> {
  const r = await stack.cli([...args, '--json']);
  if (r.exitCode !== 0) throw new Error(`caracal ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function auditActions(): Promise<string[]> {
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  try {
    return (await client.query<{ action: string }>("SELECT action FROM caracal.admin_audit_events WHERE action LIKE 'policy_set.%' ORDER BY seq")).rows.map((r) => r.action);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  requireOpa();
  work.write({ 'labelled/main.rego': LABELLED, 'step.rego': STEP_UP, 'hungry/main.rego': HUNGRY, 'broken/main.rego': 'package caracal\n\nallow if {\n' });
  stack = await startEvidenceStack('policy-cli');
  await json(['zone', 'create', 'pol', '--name', 'Policies']);
}, 240_000);
afterAll(async () => {
  await stack?.stop();
  work.remove();
}, 60_000);

describe('caracal policy sets', () => {
  it('create → upload Rego → activate → list → get → deactivate, each audited', async () => {
    const set = await json(['policy', 'create', 'payments', '--zone', 'pol']);
    expect(set).toMatchObject({ name: 'payments', active_version: null });
    const v1 = await json(['policy', 'upload', join(work.dir, 'labelled'), '--zone', 'pol', '--set', 'payments']);
    expect(v1).toMatchObject({ version: 1, policy_set_id: set.id, entrypoint: 'caracal/allow', self_test: { status: 'passed', error: null }, bundle_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await json(['policy', 'get', 'payments', '1', '--zone', 'pol'])).toMatchObject({ version: 1, rego_source: LABELLED });

    expect(await json(['policy', 'activate', 'payments', '1', '--zone', 'pol'])).toMatchObject({ id: set.id, active_version: 1 });
    const listed = await json(['policy', 'list', '--zone', 'pol']);
    expect(listed.items).toEqual([expect.objectContaining({ name: 'payments', active_version: 1 })]);
    const got = await json(['policy', 'get', 'payments', '--zone', 'pol']);
    expect(got.versions.map((v: { version: number }) => v.version)).toEqual([1]);
    expect(JSON.stringify(got)).not.toContain('"bundle"');

    const human = await stack.cli(['policy', 'get', 'payments', '--zone', 'pol']);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/active_version: 1/);
    expect(human.stdout).toMatch(/1\s+caracal\/allow\s+passed/);

    expect(await json(['policy', 'deactivate', 'payments', '--zone', 'pol'])).toMatchObject({ active_version: null });
    expect(await auditActions()).toEqual(['policy_set.create', 'policy_set.version.upload', 'policy_set.activate', 'policy_set.deactivate']);
  });

  it('uploads a built bundle as it is, with its own entrypoint and the Rego named by --source', async () => {
    const built = await buildBundle(join(work.dir, 'step.rego'), join(work.dir, 'step.tar.gz'), 'caracal/gate/step_up');
    await json(['policy', 'create', 'step-up', '--zone', 'pol']);
    const v = await json(['policy', 'upload', built.bundle, '--source', join(work.dir, 'step.rego'), '--zone', 'pol', '--set', 'step-up']);
    expect(v).toMatchObject({ version: 1, entrypoint: 'caracal/gate/step_up', bundle_sha256: built.sha256, self_test: { status: 'passed' } });
    expect((await json(['policy', 'get', 'step-up', '1', '--zone', 'pol'])).rego_source).toBe(STEP_UP);
  });

  it('a version that fails its self-test is stored, the upload exits 1, and activating it exits 1 with the 409', async () => {
    await json(['policy', 'create', 'hungry', '--zone', 'pol']);
    const up = await stack.cli(['policy', 'upload', join(work.dir, 'hungry'), '--zone', 'pol', '--set', 'hungry', '--json']);
    expect(up.exitCode).toBe(1);
    expect(JSON.parse(up.stdout)).toMatchObject({ version: 1, self_test: { status: 'failed' } });
    expect(up.stderr).toContain('version 1 is stored but failed its self-test and cannot be activated');
    const act = await stack.cli(['policy', 'activate', 'hungry', '1', '--zone', 'pol']);
    expect(act.exitCode).toBe(1);
    expect(act.stderr).toContain("409 conflict: version 1 of policy set 'hungry' failed its self-test and cannot be activated");
  });

  it('refusals: Rego that does not compile, an unknown set, an entrypoint the bundle lacks (exit 1); bad arguments (exit 2)', async () => {
    const broken = await stack.cli(['policy', 'upload', join(work.dir, 'broken'), '--zone', 'pol', '--set', 'payments']);
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toMatch(/policy refused, 1 error:\n.*main\.rego:\d+:\d+: rego_parse_error/);
    const unknown = await stack.cli(['policy', 'upload', join(work.dir, 'labelled'), '--zone', 'pol', '--set', 'nowhere']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain("404 not_found: policy set 'nowhere' does not exist in zone 'pol'");
    const wrongEntry = await stack.cli(['policy', 'upload', join(work.dir, 'step.tar.gz'), '--source', join(work.dir, 'step.rego'), '--zone', 'pol', '--set', 'step-up', '--entrypoint', 'caracal/allow']);
    expect(wrongEntry.exitCode).toBe(1);
    expect(wrongEntry.stderr).toContain("400 invalid_request: the bundle has no entrypoint 'caracal/allow'");
    expect((await stack.cli(['policy', 'activate', 'payments', '99', '--zone', 'pol'])).stderr).toContain("policy set 'payments' has no version 99");

    for (const args of [
      ['policy', 'create', 'Bad Name', '--zone', 'pol'],
      ['policy', 'activate', 'payments', 'one', '--zone', 'pol'],
      ['policy', 'upload', join(work.dir, 'missing'), '--zone', 'pol', '--set', 'payments'],
      ['policy', 'upload', join(work.dir, 'labelled'), '--zone', 'pol'],
      ['policy', 'deactivate', 'payments'],
      ['policy', 'upload', join(work.dir, 'step.tar.gz'), '--zone', 'pol', '--set', 'step-up'],
    ]) {
      const r = await stack.cli(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
    }
  });
});

const decisionInput = (labels: string[]) => ({
  principal: { type: 'application', id: 'app-1', labels },
  resource: { id: 'res-1', identifier: 'https://payments.example', scopes: ['payments:read'] },
  action: { id: 'mint' },
  delegation_edge: null,
  context: { requested_scopes: ['payments:read'], request_id: 'req-1' },
});

describe('caracal policy simulate', () => {
  beforeAll(async () => {
    work.write({
      'ops.json': JSON.stringify(decisionInput(['ops'])),
      'payments.json': JSON.stringify(decisionInput(['payments'])),
      'no-action.json': JSON.stringify({ ...decisionInput([]), action: {} }),
      'broken.json': '{"principal": ',
    });
    await json(['policy', 'activate', 'payments', '1', '--zone', 'pol']);
  });
  const sim = (...args: string[]) => stack.cli(['policy', 'simulate', '--zone', 'pol', ...args]);

  it('prints the contract, each set and the final decision; exit 0 on allow, 1 on deny', async () => {
    const denied = await sim('--input', join(work.dir, 'ops.json'));
    expect(denied.exitCode).toBe(1);
    expect(denied.stdout).toMatch(/^STEP\s+POLICY\s+DECISION\s+STATUS\s+REASONS/);
    expect(denied.stdout).toMatch(/\ncontract\s+caracal\.contract\s+allow\s+complete\s+granted/);
    expect(denied.stdout).toMatch(/\nset\s+payments@v1\s+deny\s+complete/);
    expect(denied.stdout).toMatch(/\nfinal\s+payments@v1\s+deny\s+complete\s+policy_denied/);
    const allowed = await sim('--input', join(work.dir, 'payments.json'), '--json');
    expect(allowed.exitCode).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ decision: 'allow', reason: 'granted', sets: [{ policy: 'payments@v1', decision: 'allow', evaluation_status: 'complete' }] });
  });

  it('--set evaluates a stored version before it is activated: one that fails evaluation denies with an error row', async () => {
    const r = await sim('--input', join(work.dir, 'payments.json'), '--set', 'hungry@1');
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/\nset\s+hungry@v1\s+deny\s+error/);
    expect(r.stdout).toMatch(/\nfinal\s+hungry@v1\s+deny\s+error\s+policy_error/);
    expect(await auditActions()).not.toContain('policy_set.simulate');
  });

  it('usage errors exit 2 naming the file; an input the API refuses exits 1 naming the field', async () => {
    const missing = await sim();
    expect([missing.exitCode, missing.stderr]).toEqual([2, expect.stringContaining('--input <file> is required')]);
    const unreadable = await sim('--input', join(work.dir, 'nowhere.json'));
    expect([unreadable.exitCode, unreadable.stderr]).toEqual([2, expect.stringContaining(`--input ${join(work.dir, 'nowhere.json')} cannot be read: ENOENT`)]);
    const broken = await sim('--input', join(work.dir, 'broken.json'));
    expect([broken.exitCode, broken.stderr]).toEqual([2, expect.stringContaining(`--input ${join(work.dir, 'broken.json')} is not valid JSON`)]);
    expect((await sim('--input', join(work.dir, 'ops.json'), '--set', 'payments')).exitCode).toBe(2);
    const shape = await sim('--input', join(work.dir, 'no-action.json'));
    expect([shape.exitCode, shape.stderr]).toEqual([1, expect.stringContaining("body.action must have required property 'id'")]);
    const help = await stack.cli(['policy', 'simulate', '--help']);
    expect(help.stdout).toContain('0  the final decision is allow');
  });
});
