// A zone policy set's stored bundle, opened for evaluation: its bytes checked against the SHA-256 recorded with the
// version, its policy.wasm and its data.json (the set's own data, given to the module as `data`). A bundle that
// cannot be opened is kept with the reason, so every evaluation of it denies instead of failing the caller.
import { createHash } from 'node:crypto';
import { readBundle } from './bundle.js';
import { loadPolicyModule, type PolicyMemory, type PolicyModule } from './engine.js';

export interface SetBundle {
  wasm: Buffer;
  data: object;
  entrypoints: string[];
  /** Why the bundle cannot be evaluated (missing, a digest mismatch, not a wasm bundle). */
  broken?: string;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function openSetBundle(expectedSha256: string, bytes: Uint8Array | undefined): SetBundle {
  const empty = { wasm: Buffer.alloc(0), data: {}, entrypoints: [] };
  if (!bytes) return { ...empty, broken: 'the bundle is missing' };
  if (createHash('sha256').update(bytes).digest('hex') !== expectedSha256) return { ...empty, broken: 'the bundle does not match its SHA-256' };
  try {
    const b = readBundle(bytes);
    const data = b.files.get('data.json');
    return { wasm: b.wasm, data: data ? (JSON.parse(data.toString('utf8')) as object) : {}, entrypoints: b.entrypoints };
  } catch (e) {
    return { ...empty, broken: messageOf(e) };
  }
}

/** Why `entrypoint` of this bundle cannot be evaluated, or undefined when it can. */
export function unusable(b: SetBundle, entrypoint: string): string | undefined {
  return b.broken ?? (b.entrypoints.includes(entrypoint) ? undefined : `the bundle has no entrypoint ${entrypoint}`);
}

/** A fresh module of the bundle, with the memory maximum given and the bundle's data set. */
export async function loadSetModule(b: SetBundle, memory: PolicyMemory): Promise<PolicyModule> {
  const module = await loadPolicyModule(b.wasm, memory);
  module.setData(b.data);
  return module;
}
