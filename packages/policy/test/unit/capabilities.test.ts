// The capabilities `caracal policy build` compiles against are the opa-wasm SDK's own shipped file: builtins it cannot
// run are not listed, and only opa's language features are added. The file is authoritative: a builtin its
// JavaScript implements but the file does not declare stays refused (fail closed), and this test names each one, so
// an SDK upgrade that changes the set is reviewed.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCapabilities, sdkBuiltins, sdkCapabilities, sdkCapabilitiesFile } from '../../src/index.js';

const require = createRequire(import.meta.url);
const sdkEntry = require.resolve('@open-policy-agent/opa-wasm');

describe('opa-wasm SDK capabilities', () => {
  it('are the capabilities.json shipped in the installed SDK package', () => {
    const file = sdkCapabilitiesFile();
    expect(file).toBe(join(dirname(sdkEntry), '..', 'capabilities.json'));
    const pkg = JSON.parse(readFileSync(join(dirname(file), 'package.json'), 'utf8')) as { name: string };
    expect(pkg.name).toBe('@open-policy-agent/opa-wasm');
    expect(sdkCapabilities().wasm_abi_versions).toEqual(expect.arrayContaining([{ version: 1, minor_version: 2 }]));
  });

  it('list the builtins the SDK implements in JavaScript (but regex.split, which it does not declare) and none it cannot run', () => {
    const jsBuiltins = Object.keys(require(join(dirname(sdkEntry), 'builtins', 'index.js')) as Record<string, unknown>);
    const names = sdkBuiltins();
    expect(jsBuiltins).toContain('sprintf');
    expect(jsBuiltins.filter((name) => !names.has(name))).toEqual(['regex.split']);
    for (const name of ['http.send', 'time.now_ns', 'io.jwt.decode', 'io.jwt.decode_verify', 'net.lookup_ip_addr', 'opa.runtime']) expect(names.has(name), name).toBe(false);
  });

  it('buildCapabilities adds the compiler language features and keeps the builtins exactly the SDK\'s', () => {
    const caps = buildCapabilities(['rego_v1', 'keywords_in_refs']);
    expect(caps.features).toEqual(['rego_v1', 'keywords_in_refs']);
    expect(caps.builtins).toEqual(sdkCapabilities().builtins);
  });
});
