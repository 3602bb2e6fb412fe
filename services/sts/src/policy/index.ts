// Zone policy sets evaluated in the STS after the platform contract (R-POL-1, R-POL-3).
export { policyInput, timeFacts, type TimeFacts } from './input.js';
export { readResult, type SetVerdict } from './result.js';
export { PolicyStore, type ActiveSet } from './store.js';
export { ZonePolicies, type PolicyDecision, type ZonePoliciesOptions } from './zone-policies.js';
