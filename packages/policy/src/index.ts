// Zone policy sets (R-POL-3): the opa-wasm SDK's capabilities for `opa build`, bundle reading and in-process
// evaluation with @open-policy-agent/opa-wasm, shared by the CLI and the STS.
export * from './bundle.js';
export * from './capabilities.js';
export * from './engine.js';
