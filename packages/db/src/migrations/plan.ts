// What a set of migration files would do to a database, without applying anything: which files are applied,
// which the expand step applies and which wait for the contract step (R-MIG-2); and whether a release's files
// agree with what the database already recorded (an upgrade refuses a release that does not).
import type { MigrationFile } from './files.js';
import type { Manifest, ManifestProblem } from './manifest.js';
import type { AppliedRow } from './runner.js';

export type MigrationState = 'applied' | 'changed' | 'expand' | 'contract';

export interface PlannedMigration {
  file: MigrationFile;
  /**
   * `changed`: applied with another checksum; `expand`: the expand step applies it; `contract`: it waits for the
   * contract step (a contract-phase file, or any file after one: order is preserved).
   */
  state: MigrationState;
}

export interface MigrationPlan {
  files: PlannedMigration[];
  applied: string[];
  changed: string[];
  expand: string[];
  contract: string[];
}

export function planMigrations(files: readonly MigrationFile[], applied: readonly Pick<AppliedRow, 'version' | 'sha256'>[], allowContract = false): MigrationPlan {
  const done = new Map(applied.map((r) => [r.version, r]));
  const plan: MigrationPlan = { files: [], applied: [], changed: [], expand: [], contract: [] };
  let blocked = false;
  for (const file of files) {
    const row = done.get(file.version);
    let state: MigrationState;
    if (row) state = row.sha256 === file.sha256 ? 'applied' : 'changed';
    else if (blocked || (file.phase === 'contract' && !allowContract)) {
      blocked = true;
      state = 'contract';
    } else state = 'expand';
    plan.files.push({ file, state });
    plan[state].push(file.file);
  }
  return plan;
}

/**
 * A release may be applied to a database only if it carries every migration the database recorded, byte for byte:
 * each applied row is in the release's manifest and among its files with the recorded checksum. Anything else is
 * a release of another line of history (or an older one), and its expand step would run against a schema it does
 * not know.
 */
export function checkAppliedAgainst(manifest: Manifest, files: readonly MigrationFile[], applied: readonly Pick<AppliedRow, 'version' | 'name' | 'sha256'>[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const byVersion = new Map(files.map((f) => [f.version, f]));
  for (const row of applied) {
    const file = `${row.name}.up.sql`;
    const listed = manifest[file];
    const present = byVersion.get(row.version);
    if (listed === undefined) problems.push({ file, problem: 'is applied to the database but not in the manifest' });
    else if (listed !== row.sha256) problems.push({ file, problem: `is applied with sha256 ${row.sha256.slice(0, 12)}…, the manifest says ${listed.slice(0, 12)}…` });
    else if (!present || present.file !== file) problems.push({ file, problem: 'is applied to the database but its file is missing' });
    else if (present.sha256 !== row.sha256) problems.push({ file, problem: 'is applied to the database, and its file differs from it' });
  }
  return problems;
}
