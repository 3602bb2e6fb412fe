// The Audit pillar's evidence checks, in report order (R-EVD-1).
import type { CheckDefinition } from '../check.js';
import { auditChains } from './audit-chains.js';
import { auditContinuity } from './audit-continuity.js';

export const AUDIT_CHECKS: readonly CheckDefinition[] = [auditChains, auditContinuity];
