// Instantiates a compiled policy (OPA wasm ABI 1.x) the way the opa-wasm SDK's loadPolicy does — a memory with the
// given maximum, the same imports, the SDK's own JavaScript builtins (sprintf, json.is_valid, regex.split, yaml.*)
// and the SDK's LoadedPolicy around the instance — but with a cheaper bridge for the builtins the module calls back:
// the SDK builds a TextDecoder per argument and a TextEncoder per result and leaves both copies on the module's
// heap, which made each `sprintf` of a policy cost several microseconds.
import { createRequire } from 'node:module';
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { mutableGlobals } from './wasm-globals.js';
import { ModuleJson, type JsonExports, type WasmMemory } from './wasm-json.js';

// The parts of the WebAssembly global used here (this project's TypeScript libs do not declare it).
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
  Global: abstract new (...args: never[]) => { value: unknown };
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>;
}

type Builtin = (...args: unknown[]) => unknown;

interface Sdk {
  LoadedPolicy: new (instance: unknown, memory: WasmMemory, minorVersion: number | undefined) => LoadedPolicy;
  builtins: Record<string, Builtin>;
}

/** The SDK's LoadedPolicy and its builtin implementations (src/builtins, which its package.json does not export). */
function sdkParts(): Sdk {
  const entry = createRequire(import.meta.url).resolve('@open-policy-agent/opa-wasm');
  const load = createRequire(entry);
  return { LoadedPolicy: (load(entry) as Pick<Sdk, 'LoadedPolicy'>).LoadedPolicy, builtins: load('./builtins/index.js') as Record<string, Builtin> };
}

export interface LoadedModule {
  policy: LoadedPolicy;
  json: ModuleJson;
  /** Its mutable globals (wasm-globals.ts), undefined when its binary could not be read for them. */
  mutableGlobals: number | undefined;
}

const globalNumber = (g: unknown): number | undefined => (typeof g === 'number' ? g : g instanceof Wasm.Global ? (g.value as number) : undefined);

export async function instantiatePolicy(wasm: Uint8Array, memory: { initial: number; maximum: number }): Promise<LoadedModule> {
  const mem = new Wasm.Memory({ initial: memory.initial || 5, maximum: memory.maximum });
  const { builtins, LoadedPolicy } = sdkParts();
  // Filled in once the instance exists: the bridge is only called from inside its evaluations.
  const bridge: { json?: ModuleJson; byId: (Builtin | undefined)[]; names: string[] } = { byId: [], names: [] };
  // The SDK's abort and println read the message byte by byte (as Latin-1); kept so messages read the same.
  const message = (addr: number) => {
    const bytes = new Int8Array(mem.buffer);
    let s = '';
    while (bytes[addr] !== 0) s += String.fromCharCode(bytes[addr++]!);
    return s;
  };
  const impl = (id: number): Builtin => {
    const f = bridge.byId[id];
    if (!f) throw new Error(`not implemented: built-in function ${id}: ${bridge.names[id]}`);
    return f;
  };
  const read = (addr: number) => bridge.json!.read(addr);
  const back = (value: unknown) => bridge.json!.write(value);
  const env = {
    memory: mem,
    opa_abort: (addr: number) => {
      throw new Error(message(addr));
    },
    opa_println: (addr: number) => console.log(message(addr)),
    opa_builtin0: (id: number) => back(impl(id)()),
    opa_builtin1: (id: number, _ctx: number, a: number) => back(impl(id)(read(a))),
    opa_builtin2: (id: number, _ctx: number, a: number, b: number) => back(impl(id)(read(a), read(b))),
    opa_builtin3: (id: number, _ctx: number, a: number, b: number, c: number) => back(impl(id)(read(a), read(b), read(c))),
    opa_builtin4: (id: number, _ctx: number, a: number, b: number, c: number, d: number) => back(impl(id)(read(a), read(b), read(c), read(d))),
  };
  const { instance } = await Wasm.instantiate(wasm, { env });
  const x = instance.exports as Partial<Record<string, unknown>>;
  const version = globalNumber(x.opa_wasm_abi_version);
  if (version !== undefined && version !== 1) throw new Error(`unsupported ABI version ${version}`);
  for (const name of ['opa_malloc', 'opa_free', 'opa_json_parse', 'opa_json_dump', 'builtins']) {
    if (typeof x[name] !== 'function') throw new Error(`it does not export ${name}`);
  }
  const json = new ModuleJson(mem, x as unknown as JsonExports);
  bridge.json = json;
  const ids = json.read((x.builtins as () => number)()) as Record<string, number>;
  for (const [name, id] of Object.entries(ids)) {
    bridge.names[id] = name;
    bridge.byId[id] = Object.hasOwn(builtins, name) ? builtins[name] : undefined;
  }
  const policy = new LoadedPolicy(instance, mem, globalNumber(x.opa_wasm_abi_minor_version));
  return { policy, json, mutableGlobals: mutableGlobals(wasm) };
}
