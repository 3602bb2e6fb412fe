// The STS authority core: the repository of lineage/grant/delegation reads, the single decision-input builder,
// the platform contract, the replay and rate-limit keyspace, the zone directory, and the check runner.
export { AuthorityLimits } from './limits.js';
export { AuthorityRepository, type KeptContext, type AuthorityContext, type DelegationEdgeRow, type DelegationGraph, type AgentSessionRow, type LineageState } from './repository.js';
export { allows, evaluateContract, LIFECYCLE_SCOPE, type DecisionInput, type DecisionResult } from '@caracal/policy';
export { decisionInput, type DecisionFacts } from './decision-input.js';
export { requiredScope, type ResourceGrant } from './resource-grant.js';
export { runChecks, type Check } from './checks.js';
export { ZoneDirectory } from './zone-directory.js';
export { BoundedCache } from './bounded-cache.js';
export { GraphShapes } from './graph-shapes.js';
export { AuthorityView } from './view.js';
