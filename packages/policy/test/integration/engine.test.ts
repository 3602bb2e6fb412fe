// The engine evaluates through the OPA wasm ABI with the heap (and so the module's glob and regex caches) kept between
// evaluations: it must answer exactly what the SDK's own evaluate answers on a fresh heap, whatever came before; it
// must stay within its memory maximum over many evaluations; and a failed evaluation must not spoil the next one.
import { join } from 'node:path';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicyModule, PolicyEvaluationError, readBundle } from '../../dist/index.js';
import { mutableGlobals } from '../../dist/wasm-globals.js';
import { buildBundle, policyDir, requireOpa } from '../../../../test-support/opa.js';

const work = policyDir('engine');
async function wasmOf(name: string, files: Record<string, string>): Promise<{ wasm: Buffer; data: object }> {
  work.write(Object.fromEntries(Object.entries(files).map(([f, c]) => [`${name}/${f}`, c])));
  const b = readBundle((await buildBundle(join(work.dir, name), join(work.dir, `${name}.tar.gz`))).bytes);
  const data = b.files.get('data.json');
  return { wasm: b.wasm, data: data ? (JSON.parse(data.toString('utf8')) as object) : {} };
}

// Patterns from data and from the input, memoised rules, a set built from the input and the builtins the SDK runs in
// JavaScript (sprintf, json.is_valid, yaml.marshal).
const PATTERNS = `package caracal

labels := {l | some l in input.labels}

resource_ok if {
	some p in data.resources
	glob.match(p, ["/"], input.resource)
}

named if regex.match(input.name_pattern, input.name)

caller_glob if glob.match(input.glob, [":"], input.scope)

deny contains sprintf("resource %s", [input.resource]) if not resource_ok

deny contains "name" if not named

deny contains "scope" if not caller_glob

deny contains "quarantined" if "quarantined" in labels

notes := {"json": json.is_valid(input.name), "yaml": yaml.marshal({"scope": input.scope, "labels": count(labels)})}

allow := {"allow": count(deny) == 0, "reasons": sort(deny), "notes": notes}
`;

const input = (i: number) => ({
  resource: ['resource://platform-api', 'resource://billing', 'resource://bench', `resource://x-${i % 7}`][i % 4],
  name_pattern: [`^app-${i % 5}$`, '^app-[0-9]+$', 'svc'][i % 3],
  name: `app-${i % 11}`,
  glob: ['items:*', 'deploy:*', `t${i % 13}:*`][i % 3],
  scope: ['items:read', 'deploy:prod', `t${i % 9}:x`][i % 3 === 0 ? i % 2 : 2],
  labels: i % 10 === 0 ? ['quarantined'] : ['team:a'],
  pad: 'x'.repeat(i % 50),
});

let patterns: { wasm: Buffer; data: object };
beforeAll(async () => {
  requireOpa();
  patterns = await wasmOf('patterns', { 'p.rego': PATTERNS, 'data.json': JSON.stringify({ resources: ['resource://platform-*', 'resource://bench'] }) });
});
afterAll(() => work.remove());

describe('policy engine', () => {
  it('a module opa builds keeps its state in its memory but for the stack pointer (heap snapshots apply to it)', () => {
    expect(mutableGlobals(patterns.wasm)).toBe(1);
  });

  // 1 MiB keeps 256 KiB of garbage: its heap is reset (its snapshot copied back) every few dozen evaluations.
  it.each([
    ['the default memory', undefined],
    ['a small memory maximum', { initialPages: 5, maximumPages: 16 }],
  ])('answers what the SDK answers on a fresh heap, evaluation after evaluation (%s)', async (_, memory) => {
    const module = await loadPolicyModule(patterns.wasm, memory);
    module.setData(patterns.data);
    const sdk = await loadPolicy(patterns.wasm, { initial: 5, maximum: 256 });
    sdk.setData(patterns.data);
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const mine = module.evaluate(input(i), 'caracal/allow');
      expect(mine).toEqual(sdk.evaluate(input(i), 'caracal/allow'));
      seen.add(JSON.stringify(mine));
    }
    // The inputs reach allows and several kinds of deny.
    expect(seen.size).toBeGreaterThan(8);
    expect([...seen].some((r) => r.includes('"allow":true'))).toBe(true);
  });

  it('data set again replaces the old data for the next evaluation', async () => {
    const module = await loadPolicyModule(patterns.wasm);
    module.setData(patterns.data);
    const ok = { ...input(2), name_pattern: '^app-2$', name: 'app-2', glob: 'items:*', scope: 'items:read', labels: [] };
    const notes = { json: false, yaml: 'labels: 0\nscope: items:read\n' };
    expect(module.evaluate(ok, 'caracal/allow')).toEqual([{ result: { allow: true, reasons: [], notes } }]);
    module.setData({ resources: ['resource://other'] });
    expect(module.evaluate(ok, 'caracal/allow')).toEqual([{ result: { allow: false, reasons: ['resource resource://bench'], notes } }]);
  });

  it('data set again is what every later evaluation reads, across heap resets (no snapshot of the old data comes back)', async () => {
    const module = await loadPolicyModule(patterns.wasm, { initialPages: 5, maximumPages: 16 });
    module.setData(patterns.data);
    const ok = { ...input(2), name_pattern: '^app-2$', name: 'app-2', glob: 'items:*', scope: 'items:read', labels: [] };
    for (let i = 0; i < 500; i++) module.evaluate(input(i), 'caracal/allow');
    expect(module.evaluate(ok, 'caracal/allow')[0]!.result).toMatchObject({ allow: true });
    module.setData({ resources: ['resource://other'] });
    for (let i = 0; i < 500; i++) {
      module.evaluate(input(i), 'caracal/allow');
      if (i % 50 === 0) expect(module.evaluate(ok, 'caracal/allow')[0]!.result).toMatchObject({ allow: false, reasons: ['resource resource://bench'] });
    }
  });

  it('stays within a small memory maximum over many evaluations of large inputs (the kept heap is bounded)', async () => {
    // 1 MiB at most: 4,000 inputs of 8 KiB parse into far more than that, so the heap must be reset on the way.
    const module = await loadPolicyModule(patterns.wasm, { initialPages: 5, maximumPages: 16 });
    module.setData(patterns.data);
    const pad = 'y'.repeat(8 * 1024);
    for (let i = 0; i < 4000; i++) expect(module.evaluate({ ...input(i), pad }, 'caracal/allow')).toHaveLength(1);
  });

  it('an evaluation that exhausts memory fails alone: the next one starts on a fresh heap and answers', async () => {
    const hungry = await wasmOf('hungry', { 'h.rego': 'package caracal\n\nallow if count(numbers.range(1, input.n)) > 0\n' });
    const module = await loadPolicyModule(hungry.wasm, { initialPages: 2, maximumPages: 8 });
    for (let i = 0; i < 50; i++) expect(module.evaluate({ n: 10 + i }, 'caracal/allow')).toEqual([{ result: true }]);
    expect(() => module.evaluate({ n: 10_000_000 }, 'caracal/allow')).toThrow(PolicyEvaluationError);
    expect(module.evaluate({ n: 10 }, 'caracal/allow')).toEqual([{ result: true }]);
    expect(() => module.evaluate({ n: 10 }, 'caracal/deny')).toThrow('entrypoint caracal/deny is not valid in this instance');
  });
});
