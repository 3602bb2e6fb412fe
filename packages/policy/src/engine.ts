// Loads a compiled policy (OPA wasm ABI) as @open-policy-agent/opa-wasm does (wasm-instance.ts) and evaluates it
// through the ABI (abi-evaluate.ts: the module's builtin caches survive between evaluations). Every module gets an
// explicit memory maximum, so a policy that exhausts memory fails its evaluation instead of growing the process.
import { abiEvaluator } from './abi-evaluate.js';
import { instantiatePolicy, type LoadedModule } from './wasm-instance.js';

/** A wasm page is 64 KiB. */
export const WASM_PAGE_BYTES = 64 * 1024;

export interface PolicyMemory {
  initialPages: number;
  maximumPages: number;
}

/** 320 KiB to start (the SDK's default), at most 16 MiB. */
export const DEFAULT_POLICY_MEMORY: PolicyMemory = { initialPages: 5, maximumPages: 256 };

export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
}

/** An evaluation that failed inside the module (out of memory, an abort, a bad entrypoint). */
export class PolicyEvaluationError extends Error {
  override readonly name = 'PolicyEvaluationError';
}

/** The SDK throws strings as well as Errors. */
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export interface PolicyModule {
  entrypoints: string[];
  /** The result set of one entrypoint for this input: `[{ result: … }]`, or `[]` when it is undefined; throws PolicyEvaluationError. */
  evaluate: (input: unknown, entrypoint: string) => { result: unknown }[];
  setData: (data: object) => void;
}

export async function loadPolicyModule(wasm: Uint8Array, memory: PolicyMemory = DEFAULT_POLICY_MEMORY): Promise<PolicyModule> {
  let loaded: LoadedModule;
  let abi: ReturnType<typeof abiEvaluator>;
  try {
    loaded = await instantiatePolicy(wasm, { initial: memory.initialPages, maximum: memory.maximumPages });
    abi = abiEvaluator(loaded.policy, loaded.json, { maximumBytes: memory.maximumPages * WASM_PAGE_BYTES, snapshots: loaded.mutableGlobals !== undefined && loaded.mutableGlobals <= 1 });
  } catch (e) {
    throw new PolicyLoadError(`not a loadable OPA wasm module: ${messageOf(e)}`);
  }
  if ('missing' in abi) throw new PolicyLoadError(`not a loadable OPA wasm module: it does not export ${abi.missing.join(', ')}`);
  const { policy } = loaded;
  const ids = policy.entrypoints as Record<string, number>;
  return {
    entrypoints: Object.keys(ids),
    evaluate: (input, entrypoint) => {
      if (!Object.hasOwn(ids, entrypoint)) throw new PolicyEvaluationError(`policy evaluation failed: entrypoint ${entrypoint} is not valid in this instance`);
      try {
        return abi.evaluate(input, ids[entrypoint]!) as { result: unknown }[];
      } catch (e) {
        throw new PolicyEvaluationError(`policy evaluation failed: ${messageOf(e)}`);
      }
    },
    setData: abi.setData,
  };
}
