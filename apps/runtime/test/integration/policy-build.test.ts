// `caracal policy build` (R-POL-3) with the real opa: real Rego compiled to a wasm bundle that @open-policy-agent/
// opa-wasm loads and evaluates; refusals for Rego that does not compile, a missing entrypoint, builtins the SDK cannot
// run, bad paths and bad flags. opa missing fails these tests (CI builds it), it never skips them.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, loadPolicyModule, PolicyEvaluationError, PolicyLoadError, readBundle } from '../../../../packages/policy/dist/index.js';
import { caracal } from '../../../../test-support/cli.js';
import { buildBundle, policyDir, requireOpa } from '../../../../test-support/opa.js';

// Denies outside office hours (the hour comes in through input, never from a clock builtin) and limits applications
// to those labelled `payments`.
const OFFICE_HOURS = `package caracal

default allow := false

allow if {
	input.principal.type == "application"
	"payments" in input.principal.labels
	input.context.hour >= 9
	input.context.hour < 18
}
`;

const input = (hour: number, labels: string[]) => ({ principal: { type: 'application', id: 'app-1', labels }, context: { hour, requested_scopes: ['payments:read'] } });

describe('caracal policy build', () => {
  const work = policyDir('build');
  const out = (name: string) => join(work.dir, 'out', name);
  beforeAll(() => {
    requireOpa();
    work.write({ 'office/hours.rego': OFFICE_HOURS, 'out/.keep': '' });
  });
  afterAll(() => work.remove());

  it('compiles a directory into a bundle holding policy.wasm and prints its path, SHA-256 and entrypoints', async () => {
    const r = await caracal(['policy', 'build', join(work.dir, 'office'), '--out', out('office.tar.gz')], {});
    expect(r.exitCode, r.stderr).toBe(0);
    const bytes = readFileSync(out('office.tar.gz'));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(r.stdout).toContain(out('office.tar.gz'));
    expect(r.stdout).toMatch(new RegExp(`sha256\\s+${sha256}`));
    expect(r.stdout).toMatch(/entrypoints\s+caracal\/allow/);
    const bundle = readBundle(bytes);
    expect(bundle.wasm.subarray(0, 4)).toEqual(Buffer.from([0x00, 0x61, 0x73, 0x6d]));
    expect(bundle.entrypoints).toEqual(['caracal/allow']);
    // The temporary file the bundle was written to is gone.
    expect(readdirSync(join(work.dir, 'out')).sort()).toEqual(['.keep', 'office.tar.gz']);
  });

  it('--json reports the bundle, its SHA-256, entrypoints and the opa that built it; a named entrypoint is used', async () => {
    const file = join(work.write({ 'single/step.rego': 'package caracal.gate\n\nstep_up if input.context.requested_scopes[_] == "payments:write"\n' }), 'single', 'step.rego');
    const built = await buildBundle(file, out('step.tar.gz'), 'caracal/gate/step_up');
    expect(built.bundle).toBe(out('step.tar.gz'));
    expect(built.sha256).toBe(createHash('sha256').update(built.bytes).digest('hex'));
    expect(built.entrypoints).toEqual(['caracal/gate/step_up']);
    const r = await caracal(['policy', 'build', file, '--entrypoint', 'caracal/gate/step_up', '--out', out('step.tar.gz'), '--json'], {});
    expect(JSON.parse(r.stdout).opa).toEqual({ path: requireOpa(), version: '1.22.4' });
  });

  it('the bundle loads in @open-policy-agent/opa-wasm with a memory maximum and evaluates inputs', async () => {
    const { bytes } = await buildBundle(join(work.dir, 'office'), out('eval.tar.gz'));
    const policy = await loadPolicyModule(readBundle(bytes).wasm, { initialPages: 2, maximumPages: 64 });
    expect(policy.entrypoints).toEqual(['caracal/allow']);
    expect(policy.evaluate(input(10, ['payments']), 'caracal/allow')).toEqual([{ result: true }]);
    expect(policy.evaluate(input(22, ['payments']), 'caracal/allow')).toEqual([{ result: false }]);
    expect(policy.evaluate(input(10, ['billing']), 'caracal/allow')).toEqual([{ result: false }]);
    expect(policy.evaluate({}, 'caracal/allow')).toEqual([{ result: false }]);
  });

  it('a memory maximum below what the module needs refuses to load it, and a runaway allocation fails its evaluation', async () => {
    const { bytes } = await buildBundle(join(work.dir, 'office'), out('mem.tar.gz'));
    await expect(loadPolicyModule(readBundle(bytes).wasm, { initialPages: 1, maximumPages: 1 })).rejects.toBeInstanceOf(PolicyLoadError);
    work.write({ 'hungry/hungry.rego': 'package caracal\n\nallow if count(numbers.range(1, input.n)) > 0\n' });
    const hungry = await loadPolicyModule(readBundle((await buildBundle(join(work.dir, 'hungry'), out('hungry.tar.gz'))).bytes).wasm, { initialPages: 2, maximumPages: 8 });
    expect(hungry.evaluate({ n: 10 }, 'caracal/allow')).toEqual([{ result: true }]);
    expect(() => hungry.evaluate({ n: 10_000_000 }, 'caracal/allow')).toThrow(PolicyEvaluationError);
    expect(() => hungry.evaluate({ n: 10_000_000 }, 'caracal/allow')).toThrow('opa_malloc: failed');
    // The module stays usable after a failed evaluation.
    expect(hungry.evaluate({ n: 10 }, 'caracal/allow')).toEqual([{ result: true }]);
  });

  it('Rego that does not compile is refused with the compiler message, file, line and column (exit 1)', async () => {
    work.write({ 'broken/broken.rego': 'package caracal\n\nallow if {\n\tinput.x ==\n}\n' });
    const r = await caracal(['policy', 'build', join(work.dir, 'broken'), '--out', out('broken.tar.gz')], {});
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${join(work.dir, 'broken', 'broken.rego')}:5:1: rego_parse_error: unexpected } token`);
    expect(existsSync(out('broken.tar.gz'))).toBe(false);
  });

  it('an entrypoint the policy does not define is refused, named (exit 1)', async () => {
    const r = await caracal(['policy', 'build', join(work.dir, 'office'), '--entrypoint', 'caracal/permit', '--out', out('nope.tar.gz')], {});
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('entrypoint "caracal/permit" does not refer to a rule or policy decision');
    expect(existsSync(out('nope.tar.gz'))).toBe(false);
  });

  it.each([
    ['http.send', 'r := http.send({"method": "GET", "url": "https://example.com"})\n\tr.status_code == 200'],
    ['time.now_ns', 'time.now_ns() > 0'],
    ['io.jwt.decode', '[_, payload, _] := io.jwt.decode(input.token)\n\tpayload.sub == "x"'],
  ])('a policy calling %s, which the opa-wasm SDK cannot run, is refused at build time with the builtin named', async (builtin, body) => {
    const dir = `uses-${builtin.replaceAll('.', '-')}`;
    work.write({ [`${dir}/p.rego`]: `package caracal\n\nallow if {\n\t${body}\n}\n` });
    const r = await caracal(['policy', 'build', join(work.dir, dir), '--out', out(`${dir}.tar.gz`)], {});
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${join(work.dir, dir, 'p.rego')}:4:`);
    expect(r.stderr).toContain(`undefined function ${builtin}`);
    expect(r.stderr).toContain(`builtin ${builtin} is refused: the policy engine (opa-wasm) cannot run it`);
    expect(existsSync(out(`${dir}.tar.gz`))).toBe(false);
  });

  it('a misspelt function is reported as the compiler says, not as a refused builtin', async () => {
    work.write({ 'typo/p.rego': 'package caracal\n\nallow if contains_all(input.x, "a")\n' });
    const r = await caracal(['policy', 'build', join(work.dir, 'typo'), '--out', out('typo.tar.gz')], {});
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(':3:10: rego_type_error: undefined function contains_all');
    expect(r.stderr).not.toContain('is refused');
  });

  it('a missing input path is a usage error (exit 2)', async () => {
    const r = await caracal(['policy', 'build', join(work.dir, 'absent'), '--out', out('absent.tar.gz')], {});
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${join(work.dir, 'absent')} does not exist`);
  });

  it('an --out in a directory that cannot be written is refused before opa runs (exit 1)', async () => {
    for (const [target, code] of [[join(work.dir, 'no-such-dir', 'b.tar.gz'), 'ENOENT'], [join(work.dir, 'office', 'hours.rego', 'b.tar.gz'), 'ENOTDIR']] as const) {
      const r = await caracal(['policy', 'build', join(work.dir, 'office'), '--out', target], {});
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`cannot write ${target}: ${code}`);
    }
  });

  it('bad flags are usage errors (exit 2) naming the flag', async () => {
    const office = join(work.dir, 'office');
    const outDir = await caracal(['policy', 'build', office, '--out', join(work.dir, 'out')], {});
    expect(outDir.exitCode).toBe(2);
    expect(outDir.stderr).toContain(`--out ${join(work.dir, 'out')} is a directory`);
    const badEntrypoint = await caracal(['policy', 'build', office, '--entrypoint', 'caracal.allow'], {});
    expect(badEntrypoint.exitCode).toBe(2);
    expect(badEntrypoint.stderr).toContain('--entrypoint must be a rule path such as caracal/allow');
    const unknown = await caracal(['policy', 'build', office, '--entrypiont', 'caracal/allow'], {});
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--entrypiont'");
    const noPath = await caracal(['policy', 'build'], {});
    expect(noPath.exitCode).toBe(2);
    expect(noPath.stderr).toContain("missing required argument 'path'");
  });

  it('without opa it says exactly how to get it (exit 1)', async () => {
    const r = await caracal(['policy', 'build', join(work.dir, 'office'), '--out', out('x.tar.gz')], { CARACAL_INSTALL_ROOT: work.dir, PATH: '/usr/bin:/bin' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('opa is not installed');
    expect(r.stderr).toContain('bash scripts/setup-tools.sh');
    expect(r.stderr).toContain('go install github.com/open-policy-agent/opa@v1.22.4');
  });

  it('--help documents the command and its exit codes', async () => {
    const r = await caracal(['policy', 'build', '--help'], {});
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('--entrypoint <rule>');
    expect(r.stdout).toMatch(/Exit codes:\n\s+0\s+bundle written/);
  });
});

describe('readBundle', () => {
  const work = policyDir('bundle');
  afterAll(() => work.remove());

  it('refuses what is not an opa wasm bundle', async () => {
    expect(() => readBundle(Buffer.from('not a bundle'))).toThrow(BundleError);
    work.write({ 'plain/policy.rego': OFFICE_HOURS, 'plain/.manifest': '{"revision":""}' });
    await execa('tar', ['-czf', join(work.dir, 'plain.tar.gz'), '-C', join(work.dir, 'plain'), '.']);
    expect(() => readBundle(readFileSync(join(work.dir, 'plain.tar.gz')))).toThrow('the bundle has no policy.wasm');
    writeFileSync(join(work.dir, 'plain', 'policy.wasm'), Buffer.from([0x00, 0x61, 0x73, 0x6d]));
    await execa('tar', ['-czf', join(work.dir, 'nowasm.tar.gz'), '-C', join(work.dir, 'plain'), '.']);
    expect(() => readBundle(readFileSync(join(work.dir, 'nowasm.tar.gz')))).toThrow('the bundle .manifest declares no wasm module');
    expect(() => readBundle(gzipSync(Buffer.alloc(1024, 1)))).toThrow(BundleError);
  });
});
