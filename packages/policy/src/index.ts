// Zone policy sets (R-POL-1..3): the platform decision contract, the opa-wasm SDK's capabilities for `opa build`,
// bundle reading, in-process evaluation with @open-policy-agent/opa-wasm and the reading of a set's answer, and a
// dry run of both, shared by the CLI, the API and the STS.
export * from './bundle.js';
export * from './capabilities.js';
export * from './contract.js';
export * from './engine.js';
export * from './evaluate.js';
export * from './input.js';
export * from './set-bundle.js';
export * from './simulate.js';
export * from './verdict.js';
