// Zone policy sets evaluated in the STS after the platform contract (R-POL-1, R-POL-3).
export { PolicyStore, type ActiveSet } from './store.js';
export { ZonePolicies, type ZonePoliciesOptions } from './zone-policies.js';
