// schema-migrations (R-EVD-1, R-MIG-1): the migrations the database recorded are exactly the released files of the
// install root: each applied row is in the checksum manifest with its checksum, and every released file is applied.
import { join } from 'node:path';
import { checkAppliedAgainst, checkManifestEntries, MANIFEST_NAME, planMigrations, readManifest, type AppliedRow, type Manifest, type MigrationFile } from '@caracal/db';
import type { CheckDefinition } from '../check.js';
import { installedMigrations } from './schema-support.js';
import { fail, readQuery, verdict, withDb } from './support.js';

type Applied = Pick<AppliedRow, 'version' | 'name' | 'sha256'>;

/**
 * Every difference between the database's history, the manifest and the files, each naming the migration: a
 * released file changed or missing on disk, a row applied with another checksum or unknown to the manifest, a
 * file the expand step should have applied that is not applied. A contract-phase file waiting for the contract
 * step of an upgrade (R-MIG-2) is not a difference; `pendingContract` lists them.
 */
export function migrationProblems(manifest: Manifest, files: readonly MigrationFile[], applied: readonly Applied[]) {
  const found = [...checkManifestEntries(manifest, files), ...checkAppliedAgainst(manifest, files, applied)].map((p) => `${p.file}: ${p.problem}`);
  const plan = planMigrations(files, applied);
  for (const file of plan.expand) found.push(`${file}: is released but not applied to the database`);
  return { problems: [...new Set(found)], pendingContract: plan.contract };
}

export const schemaMigrations: CheckDefinition = {
  id: 'schema-migrations',
  pillar: 'Schema',
  title: 'Applied migrations match the released checksums',
  what:
    'The migration history recorded in the database (caracal.schema_migrations) matches the checksum manifest shipped with the installed release, file by file: nothing applied that was not released, nothing released left unapplied, no checksum different.',
  controls: ['R9', 'SOC2-CC8.1', 'NIST-MANAGE'],
  command: 'SELECT version, name, sha256, phase, applied_at FROM caracal.schema_migrations; infra/postgres/migrations/manifest.json and *.up.sql of the install root',
  run: (ctx) =>
    withDb(ctx, async (db) => {
      const installed = installedMigrations(ctx);
      if ('failed' in installed) return installed.failed;
      const { dir, files } = installed;
      const manifest = readManifest(dir);
      if (!manifest) return fail(`${join(dir, MANIFEST_NAME)}: the checksum manifest is missing or not a JSON object of file → sha256`);
      const history = await readQuery<{ exists: boolean }>(db, 'history-table.json', "SELECT to_regclass('caracal.schema_migrations') IS NOT NULL AS exists");
      if (!history.rows[0]?.exists) return fail('caracal.schema_migrations does not exist: no migration was ever applied', [history.raw]);
      const applied = await readQuery<Applied & Record<string, unknown>>(db, 'applied.json', 'SELECT version, name, sha256, phase, applied_at FROM caracal.schema_migrations ORDER BY version');
      const released = {
        name: 'released.json',
        command: `loadMigrations(${dir}) with sha256 of each file; ${join(dir, MANIFEST_NAME)}`,
        output: { dir, manifest, files: files.map((f) => ({ file: f.file, phase: f.phase, sha256: f.sha256 })) },
      };
      const { problems, pendingContract } = migrationProblems(manifest, files, applied.rows);
      const waiting = pendingContract.length ? `; contract step pending for ${pendingContract.join(', ')}` : '';
      return verdict(problems, `${applied.rows.length} applied migrations match the ${Object.keys(manifest).length} released checksums of ${dir}${waiting}`, [applied.raw, released]);
    }),
};
