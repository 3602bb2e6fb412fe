// Applies migrations in order, one transaction per file, under an advisory lock (R-MIG-1, R-MIG-3).
import pg from 'pg';
import { AUTHORITY_CHANNEL } from '../authority-channel.js';
import { roleName, SERVICE_NAMES, type ServiceName } from '../roles.js';
import { scramVerifier } from '../scram.js';
import type { MigrationFile } from './files.js';
import { guardMigrations } from './guard.js';
import { planMigrations } from './plan.js';
import { quoteIdent, renderMigration } from './render.js';

/** Arbitrary but fixed: every runner on every host contends for the same key. */
export const MIGRATION_LOCK_KEY = 0x63617261; // "cara"

export class MigrationError extends Error {
  readonly code = 'CARACAL_MIGRATION_FAILED';
  constructor(message: string, readonly file?: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export interface RunOptions {
  adminUrl: string;
  files: readonly MigrationFile[];
  rolePrefix: string;
  /** Plaintext passwords per service role; applied as SCRAM verifiers after migrating. */
  rolePasswords?: Partial<Record<ServiceName, string>>;
  /** Contract migrations run only in the contract step of an upgrade (R-MIG-2). */
  allowContract?: boolean;
  onApplied?: (file: MigrationFile, ms: number) => void;
}

export interface RunResult {
  applied: string[];
  skipped: string[];
  pendingContract: string[];
}

export interface AppliedRow {
  version: number;
  name: string;
  sha256: string;
  phase: string;
  applied_at: Date;
}

const TRACKING = `
CREATE SCHEMA IF NOT EXISTS caracal;
CREATE TABLE IF NOT EXISTS caracal.schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  sha256 text NOT NULL,
  phase text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

export async function readApplied(client: pg.ClientBase): Promise<AppliedRow[]> {
  const exists = await client.query("SELECT to_regclass('caracal.schema_migrations') AS t");
  if (!exists.rows[0]?.t) return [];
  const res = await client.query<AppliedRow>('SELECT version, name, sha256, phase, applied_at FROM caracal.schema_migrations ORDER BY version');
  return res.rows;
}

export async function runMigrations(opts: RunOptions): Promise<RunResult> {
  const violations = guardMigrations(opts.files);
  if (violations.length > 0) {
    const v = violations[0]!;
    throw new MigrationError(`${v.file}:${v.line}: ${v.construct} needs the header '-- caracal:phase contract'`, v.file);
  }
  const client = new pg.Client({ connectionString: opts.adminUrl, application_name: 'caracal-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await applyUnderLock(client, opts);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function applyUnderLock(client: pg.Client, opts: RunOptions): Promise<RunResult> {
  await client.query(TRACKING);
  const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  await ensureRoles(client, opts.rolePrefix);
  const rows = await readApplied(client);
  const plan = planMigrations(opts.files, rows, opts.allowContract === true);
  const result: RunResult = { applied: [], skipped: plan.applied, pendingContract: plan.contract };
  const changed = plan.files.find((p) => p.state === 'changed');
  if (changed) {
    const recorded = rows.find((r) => r.version === changed.file.version)!;
    throw new MigrationError(`${changed.file.file} was changed after it was applied (recorded sha256 ${recorded.sha256.slice(0, 12)}…)`, changed.file.file);
  }
  for (const { file } of plan.files.filter((p) => p.state === 'expand')) {
    let sql: string;
    try {
      sql = renderMigration(file.sql, { rolePrefix: opts.rolePrefix, database });
    } catch (err) {
      // Nothing of this file ran; the error still has to name it like every other migration failure.
      throw new MigrationError(`${file.file}: ${(err as Error).message}`, file.file);
    }
    const started = Date.now();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL search_path = caracal, public');
      await client.query(sql);
      // A migration may change what an authority context answers (a function, a policy, a grant of privileges):
      // every STS process empties its view of them when this one commits (migration 0026).
      await client.query('SELECT pg_notify($1, $2)', [AUTHORITY_CHANNEL, '*']);
      await client.query('INSERT INTO caracal.schema_migrations (version, name, sha256, phase) VALUES ($1, $2, $3, $4)', [
        file.version,
        file.name,
        file.sha256,
        file.phase,
      ]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new MigrationError(`${file.file} failed and was rolled back: ${(err as Error).message}`, file.file);
    }
    opts.onApplied?.(file, Date.now() - started);
    result.applied.push(file.file);
  }
  if (opts.rolePasswords) await applyRolePasswords(client, opts.rolePrefix, opts.rolePasswords, database);
  return result;
}

/** Roles must exist before migrations can grant to them; they are created without login until passwords land. */
async function ensureRoles(client: pg.Client, prefix: string): Promise<void> {
  for (const service of SERVICE_NAMES) {
    const name = roleName(prefix, service);
    const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE ROLE ${quoteIdent(name)} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION`);
    }
  }
}

async function applyRolePasswords(
  client: pg.Client,
  prefix: string,
  passwords: Partial<Record<ServiceName, string>>,
  database: string,
): Promise<void> {
  for (const service of SERVICE_NAMES) {
    const password = passwords[service];
    if (!password) continue;
    const name = quoteIdent(roleName(prefix, service));
    const verifier = client.escapeLiteral(scramVerifier(password));
    // Attributes are re-asserted every time so a hand-edited role drifts back to least privilege.
    await client.query(
      `ALTER ROLE ${name} WITH LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION PASSWORD ${verifier}`,
    );
    await client.query(`ALTER ROLE ${name} IN DATABASE ${quoteIdent(database)} SET search_path = caracal`);
  }
}
