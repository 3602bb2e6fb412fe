// One evaluation of a loaded OPA wasm module through the ABI's exported functions (the OPA docs' "Evaluation" calls:
// parse the input into the module's heap, evaluate in a context with the data set by setData, dump the result), with
// the heap kept between evaluations. Why: each heap reset also empties the module's builtin caches, and the SDK's
// evaluate resets the heap on every call, so every `glob.match` or `regex.match` compiled its pattern again (RE2 in
// wasm: about 15 µs for the first pattern of an evaluation, 4 µs for each further one — most of a realistic set's
// time, bench/policy). Here the heap is reset only when the garbage left by earlier evaluations passed a bound, and
// after an evaluation failed. The caches hold only pure functions of their pattern; every evaluation starts its own
// memo table and result set (the compiled `eval` does), so a result never depends on an earlier input.
// The evaluation context and a buffer for the input's JSON are allocated once, just above the data (below the point
// the heap is reset to), so an evaluation allocates nothing for them in either memory.
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import type { JsonExports, ModuleJson } from './wasm-json.js';

interface OpaExports extends JsonExports {
  opa_heap_ptr_get(): number;
  opa_heap_ptr_set(addr: number): void;
  opa_eval_ctx_new(): number;
  opa_eval_ctx_set_input(ctx: number, value: number): void;
  opa_eval_ctx_set_data(ctx: number, value: number): void;
  opa_eval_ctx_set_entrypoint(ctx: number, entrypoint: number): void;
  opa_eval_ctx_get_result(ctx: number): number;
  eval(ctx: number): number;
}

const REQUIRED: (keyof OpaExports)[] = [
  'opa_malloc', 'opa_free', 'opa_json_parse', 'opa_json_dump', 'opa_heap_ptr_get', 'opa_heap_ptr_set', 'opa_eval_ctx_new',
  'opa_eval_ctx_set_input', 'opa_eval_ctx_set_data', 'opa_eval_ctx_set_entrypoint', 'opa_eval_ctx_get_result', 'eval',
];

/** At most this much garbage is kept between evaluations, and never more than a quarter of the memory maximum. */
export const MAX_KEPT_HEAP_BYTES = 4 * 1024 * 1024;

/** The input buffer kept above the data; a larger input's JSON goes through a buffer allocated for it. */
export const INPUT_BUFFER_BYTES = 16 * 1024;

export type AbiEvaluate = (input: unknown, entrypoint: number) => unknown;

/** The module's missing ABI functions, or an evaluator over them. */
export function abiEvaluator(policy: LoadedPolicy, json: ModuleJson, maximumBytes: number): { missing: string[] } | { evaluate: AbiEvaluate } {
  const instance = 'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
  const found = instance.exports as Partial<Record<keyof OpaExports, unknown>>;
  const missing = REQUIRED.filter((name) => typeof found[name] !== 'function');
  if (missing.length > 0) return { missing };
  const x = found as unknown as OpaExports;
  const keep = Math.min(MAX_KEPT_HEAP_BYTES, Math.floor(maximumBytes / 4));
  // Where the data ends (setData moves it), the context and input buffer above it, and where the heap is reset to.
  let dataEnd = -1;
  let ctx = 0;
  let inputBuffer = 0;
  let fresh = 0;
  let resetFirst = true;

  const reserve = () => {
    dataEnd = policy.dataHeapPtr as number;
    x.opa_heap_ptr_set(dataEnd);
    ctx = x.opa_eval_ctx_new();
    inputBuffer = x.opa_malloc(INPUT_BUFFER_BYTES);
    fresh = x.opa_heap_ptr_get();
  };

  const load = (input: unknown): number => {
    if (input === undefined) return 0;
    const text = JSON.stringify(input);
    const written = json.encodeAt(text, inputBuffer, INPUT_BUFFER_BYTES);
    const value = written >= 0 ? x.opa_json_parse(inputBuffer, written) : json.parseText(text);
    if (value === 0) throw new Error('failed to parse the input as JSON');
    return value;
  };

  const evaluate: AbiEvaluate = (input, entrypoint) => {
    // setData leaves the heap at dataHeapPtr, just above the data; the reserved context and buffer go above it.
    if (policy.dataHeapPtr !== dataEnd) reserve();
    else if (resetFirst || x.opa_heap_ptr_get() - fresh > keep) x.opa_heap_ptr_set(fresh);
    // A failed evaluation leaves the heap's free lists in an unknown state: until this one succeeds, the next starts afresh.
    resetFirst = true;
    x.opa_eval_ctx_set_input(ctx, load(input));
    x.opa_eval_ctx_set_data(ctx, policy.dataAddr);
    x.opa_eval_ctx_set_entrypoint(ctx, entrypoint);
    x.eval(ctx);
    const result = json.read(x.opa_eval_ctx_get_result(ctx));
    resetFirst = false;
    return result;
  };
  return { evaluate };
}
