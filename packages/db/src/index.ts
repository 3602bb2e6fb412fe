// Database access: per-role pools, zone-bound transactions, the migration runner and its guard.
export { createPool, type Pool, type PoolClient, type PoolOptions } from './pool.js';
export { withTransaction, withZone } from './with-zone.js';
export { classifyDbError, isDbUnavailable, type DbFailure } from './db-errors.js';
export { SERVICE_NAMES, roleName, rolePrefixFor, assertRolePrefix, type ServiceName } from './roles.js';
export { scramVerifier } from './scram.js';
export { loadMigrations, parseMigrations, phaseOf, sha256Hex, MigrationFileError, type MigrationFile } from './migrations/files.js';
export { findContractDdl, guardMigrations, type GuardViolation } from './migrations/guard.js';
export { stripSql } from './migrations/strip-sql.js';
export { renderMigration, quoteIdent } from './migrations/render.js';
export {
  runMigrations,
  readApplied,
  MigrationError,
  MIGRATION_LOCK_KEY,
  type RunOptions,
  type RunResult,
  type AppliedRow,
} from './migrations/runner.js';
export { checkManifest, checkManifestEntries, parseManifest, readManifest, writeManifest, MANIFEST_NAME, type Manifest, type ManifestProblem } from './migrations/manifest.js';
export { planMigrations, checkAppliedAgainst, type MigrationPlan, type MigrationState, type PlannedMigration } from './migrations/plan.js';
export { appendAdminAudit, adminContentSha256, adminChainHmac, ADMIN_AUDIT_LOCK_KEY, type AdminAuditEvent } from './admin-audit/append.js';
export { readAdminAudit, type AdminAuditRow, type AdminAuditFilter } from './admin-audit/rows.js';
export { verifyAdminChain, checkAdminRow, type AdminChainReport, type AdminChainBreak, type AdminBreakKind } from './admin-audit/verify.js';
export { GENESIS, sha256Fields, chainKey, chainHmac } from './chain.js';
export { PLATFORM_ZONE_ID, PLATFORM_ZONE_SLUG } from './platform-zone.js';
export { AUTHORITY_CHANNEL } from './authority-channel.js';
export { recordRevocations, type RecordedRevocation, type RevocationRow, type RevocationTarget } from './revocations.js';
export { cutApplicationSessions, cutSessions, cutSessionSubtree, lockAgentGraph, revokeEdgeSubtrees, type SessionCut } from './agent-graph.js';
