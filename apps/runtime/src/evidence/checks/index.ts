// The evidence checks in report order (R-EVD-1); each check lives in its own file beside this one.
import type { CheckDefinition } from '../check.js';
import { AUDIT_CHECKS } from './audit.js';
import { CONFIG_CHECKS, KEY_CHECKS, PROVENANCE_CHECK, RUNTIME_CHECK, THREAT_MODEL_CHECK } from './posture.js';
import { SCHEMA_CHECKS } from './schema.js';

export const CHECKS: readonly CheckDefinition[] = [PROVENANCE_CHECK, ...SCHEMA_CHECKS, RUNTIME_CHECK, ...AUDIT_CHECKS, ...CONFIG_CHECKS, ...KEY_CHECKS, THREAT_MODEL_CHECK];
