// The Schema and Isolation evidence checks in report order (R-EVD-1).
import type { CheckDefinition } from '../check.js';
import { schemaAuditAppendOnly } from './schema-audit-append-only.js';
import { schemaExpandContract } from './schema-expand-contract.js';
import { schemaMigrations } from './schema-migrations.js';
import { schemaRls } from './schema-rls.js';
import { schemaRoles } from './schema-roles.js';
import { zoneIsolationProbe } from './zone-isolation-probe.js';

export const SCHEMA_CHECKS: readonly CheckDefinition[] = [schemaRls, schemaRoles, schemaAuditAppendOnly, schemaMigrations, schemaExpandContract, zoneIsolationProbe];
