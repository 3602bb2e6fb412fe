// The capabilities `opa build` compiles against: the builtins and wasm ABI versions of the opa-wasm SDK this project
// evaluates policies with (its shipped capabilities.json), so a policy calling a builtin the SDK cannot run
// (http.send, time.now_ns, io.jwt.*, …) is refused at build time rather than failing at evaluation.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

interface Capabilities {
  builtins: { name: string }[];
  wasm_abi_versions?: unknown;
  features?: string[];
}

/** The capabilities.json the opa-wasm SDK ships next to its sources (not exported by its package.json). */
export function sdkCapabilitiesFile(): string {
  const entry = createRequire(import.meta.url).resolve('@open-policy-agent/opa-wasm');
  return join(dirname(entry), '..', 'capabilities.json');
}

export function sdkCapabilities(): Capabilities {
  return JSON.parse(readFileSync(sdkCapabilitiesFile(), 'utf8')) as Capabilities;
}

/** Names of the builtins the SDK can run. */
export function sdkBuiltins(): Set<string> {
  return new Set(sdkCapabilities().builtins.map((b) => b.name));
}

/**
 * The SDK's capabilities with the language features of the `opa` that compiles (`opa capabilities --current`): the
 * SDK's file lists builtins only, and opa 1.x refuses to parse Rego v1 against capabilities without `rego_v1`.
 * Features are syntax the compiler lowers before emitting wasm; builtins stay exactly the SDK's.
 */
export function buildCapabilities(opaFeatures: readonly string[]): Capabilities {
  return { ...sdkCapabilities(), features: [...opaFeatures] };
}
