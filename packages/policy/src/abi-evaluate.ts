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
//
// A reset (opa_heap_ptr_set) empties the caches, and the evaluations after it compiled their patterns again: 50 to
// 150 µs each, the slowest ~1% of evaluations. So once some evaluations ran after a reset, the module's memory below
// its heap pointer is copied (a snapshot, at most SNAPSHOT_MAX_GARBAGE_BYTES above the reset point), and a later
// reset copies it back instead: a few µs for the copy, and the caches as they were. That memory is the whole state of
// the module between two calls: its statics (heap pointer, heap top, free lists, cache pointers) and every live
// block lie below the heap pointer, and its one mutable global (the stack pointer) is back at its resting value after
// each successful call (wasm-globals.ts checks it has no other; a module with more gets no snapshot). The state copied
// back is so a state the module was in between two successful evaluations, from which any evaluation answers what it
// answers from a fresh heap. It is only copied back while the memory has not grown since (the snapshot's heap top
// must be the memory's size), and never after a failed evaluation.
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

/** The snapshot is taken after this many successful evaluations following a reset… */
export const SNAPSHOT_AFTER_EVALUATIONS = 32;
/** …or earlier, once their garbage passed this (it bounds the snapshot's size and the time to copy it back). */
export const SNAPSHOT_MAX_GARBAGE_BYTES = 256 * 1024;

export type AbiEvaluate = (input: unknown, entrypoint: number) => unknown;

export interface AbiOptions {
  /** The memory maximum. */
  maximumBytes: number;
  /** Whether the module's state lies in its memory but for the stack pointer (see above). */
  snapshots: boolean;
}

/** The module's missing ABI functions, or an evaluator over them and the way to set its data. */
export function abiEvaluator(policy: LoadedPolicy, json: ModuleJson, opts: AbiOptions): { missing: string[] } | { evaluate: AbiEvaluate; setData: (data: object) => void } {
  const instance = 'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
  const found = instance.exports as Partial<Record<keyof OpaExports, unknown>>;
  const missing = REQUIRED.filter((name) => typeof found[name] !== 'function');
  if (missing.length > 0) return { missing };
  const x = found as unknown as OpaExports;
  const keep = Math.min(MAX_KEPT_HEAP_BYTES, Math.floor(opts.maximumBytes / 4));
  // The context and input buffer (above the data) and where the heap is reset to (above them).
  let ctx = 0;
  let inputBuffer = 0;
  let fresh = 0;
  // False until they are allocated (setting the data failed when it stays false).
  let reserved = false;
  let resetFirst = true;
  let snapshot: Uint8Array | undefined;
  let snapshotMemoryBytes = 0;
  let sinceReset = 0;

  // setData leaves the heap at dataHeapPtr, just above the data; the context and buffer go above it.
  const reserve = () => {
    reserved = false;
    snapshot = undefined;
    x.opa_heap_ptr_set(policy.dataHeapPtr as number);
    ctx = x.opa_eval_ctx_new();
    inputBuffer = x.opa_malloc(INPUT_BUFFER_BYTES);
    fresh = x.opa_heap_ptr_get();
    sinceReset = 0;
    reserved = true;
  };

  const reset = () => {
    const heap = json.bytes();
    if (snapshot && heap.length === snapshotMemoryBytes) {
      heap.set(snapshot);
      return;
    }
    x.opa_heap_ptr_set(fresh);
    snapshot = undefined;
    sinceReset = 0;
  };

  // The snapshot is taken after a few evaluations (their caches), while it stays well below the kept garbage.
  const snapshotLimit = Math.min(SNAPSHOT_MAX_GARBAGE_BYTES, Math.floor(keep / 2));
  const afterSuccess = () => {
    if (snapshot || !opts.snapshots) return;
    const garbage = x.opa_heap_ptr_get() - fresh;
    if ((++sinceReset < SNAPSHOT_AFTER_EVALUATIONS && garbage < snapshotLimit / 2) || garbage > snapshotLimit) return;
    const heap = json.bytes();
    snapshot = new Uint8Array(heap.buffer.slice(0, fresh + garbage)); // a copy (Buffer's slice is a view)
    snapshotMemoryBytes = heap.length;
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
    if (!reserved) throw new Error('the module has no data: setting it failed');
    if (resetFirst) {
      // A failed evaluation leaves the module in an unknown state (the free lists, the caches): start afresh.
      snapshot = undefined;
      reset();
    } else if (x.opa_heap_ptr_get() - fresh > keep) reset();
    resetFirst = true;
    x.opa_eval_ctx_set_input(ctx, load(input));
    x.opa_eval_ctx_set_data(ctx, policy.dataAddr);
    x.opa_eval_ctx_set_entrypoint(ctx, entrypoint);
    x.eval(ctx);
    const result = json.read(x.opa_eval_ctx_get_result(ctx));
    resetFirst = false;
    afterSuccess();
    return result;
  };
  const setData = (data: object) => {
    reserved = false;
    policy.setData(data);
    reserve();
  };
  reserve();
  return { evaluate, setData };
}
