// `caracal migrate status|up|validate`: the migration runner and the expand/contract guard (R-MIG-1, R-MIG-2).
import pg from 'pg';
import { checkManifest, guardMigrations, loadMigrations, readApplied, runMigrations, type GuardViolation, type ManifestProblem } from '@caracal/db';
import { redactUrl } from '@caracal/logging';
import { CliError } from '../errors.js';
import { acquireLock } from '../home/lock.js';
import { table } from '../output.js';
import { adminDatabaseUrl, loadContext } from '../stack/context.js';
import { rolePasswords } from '../stack/derived.js';
import { installRoot, migrationsDir } from '../version.js';
import type { Io } from './io.js';

export interface ValidateReport {
  ok: boolean;
  dir: string;
  files: number;
  violations: GuardViolation[];
  manifest: ManifestProblem[];
}

export function runValidate(dir: string | undefined, io: Io): ValidateReport {
  const d = dir ?? migrationsDir(installRoot(io.env));
  let files;
  try {
    files = loadMigrations(d);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const violations = guardMigrations(files);
  const manifest = checkManifest(d, files);
  return { ok: violations.length === 0 && manifest.length === 0, dir: d, files: files.length, violations, manifest };
}

export function printValidate(r: ValidateReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(r);
  for (const v of r.violations) io.out.data(`${v.file}:${v.line}: ${v.construct} is contract-phase DDL; add the header '-- caracal:phase contract'`);
  for (const m of r.manifest) io.out.data(`${m.file}: ${m.problem}`);
  if (r.ok) io.out.data(`${r.files} migrations valid (expand-only guard and checksum manifest)`);
}

export interface MigrationStatusRow {
  file: string;
  phase: string;
  state: 'applied' | 'pending' | 'changed';
  appliedAt: string | null;
}

export async function connectAdmin(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new CliError(`cannot connect to ${redactUrl(url)}: ${(err as Error).message}`, 1, 'is the stack up? `caracal up` starts managed Postgres');
  }
  return client;
}

export async function runMigrateStatus(io: Io): Promise<MigrationStatusRow[]> {
  const ctx = loadContext(io.env);
  const files = loadMigrations(migrationsDir(ctx.root));
  const client = await connectAdmin(adminDatabaseUrl(ctx));
  try {
    const applied = new Map((await readApplied(client)).map((r) => [r.version, r]));
    return files.map((f) => {
      const a = applied.get(f.version);
      return { file: f.file, phase: f.phase, state: !a ? 'pending' : a.sha256 === f.sha256 ? 'applied' : 'changed', appliedAt: a ? a.applied_at.toISOString() : null };
    });
  } finally {
    await client.end();
  }
}

export function printMigrateStatus(rows: MigrationStatusRow[], io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(rows);
  io.out.data(table(['MIGRATION', 'PHASE', 'STATE', 'APPLIED AT'], rows.map((r) => [r.file, r.phase, r.state, r.appliedAt ?? '-'])));
}

export async function runMigrateUp(opts: { contract?: boolean }, io: Io) {
  const ctx = loadContext(io.env);
  const lock = acquireLock(ctx.home.lockFile, 'migrate');
  try {
    const url = adminDatabaseUrl(ctx);
    await (await connectAdmin(url)).end();
    return await runMigrations({
      adminUrl: url,
      files: loadMigrations(migrationsDir(ctx.root)),
      rolePrefix: ctx.settings.CARACAL_DB_ROLE_PREFIX,
      rolePasswords: rolePasswords(ctx),
      allowContract: opts.contract === true,
      onApplied: (f, ms) => io.out.info(`applied ${f.file} (${ms} ms)`),
    });
  } finally {
    lock.release();
  }
}
