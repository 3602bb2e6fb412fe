// The evidence checks in report order (R-EVD-1); each check lives in its own file beside this one.
import type { CheckDefinition } from '../check.js';
import { SCHEMA_CHECKS } from './schema.js';

export const CHECKS: readonly CheckDefinition[] = [...SCHEMA_CHECKS];
