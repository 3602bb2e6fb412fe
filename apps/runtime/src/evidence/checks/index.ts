// The evidence checks in report order (R-EVD-1); each check lives in its own file beside this one.
import type { CheckDefinition } from '../check.js';
import { AUDIT_CHECKS } from './audit.js';

export const CHECKS: readonly CheckDefinition[] = [...AUDIT_CHECKS];
