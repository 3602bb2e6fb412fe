// schema-expand-contract (R-EVD-1, R-MIG-2): every migration file of the install root passes the expand/contract
// guard: contract-phase DDL (drops, renames, type changes, new NOT NULL) only in a file with the contract header.
import { findContractDdl, guardMigrations } from '@caracal/db';
import type { CheckDefinition } from '../check.js';
import { installedMigrations } from './schema-support.js';
import { verdict } from './support.js';

export const schemaExpandContract: CheckDefinition = {
  id: 'schema-expand-contract',
  pillar: 'Schema',
  title: 'Migrations keep to expand/contract',
  what:
    'The expand/contract guard passes on every migration file shipped with the installed release: DDL that would break the running previous version during a rolling upgrade appears only in files marked as contract-phase, which run after every instance is upgraded.',
  controls: ['R9', 'SOC2-CC8.1', 'ASI08'],
  command: 'guardMigrations(loadMigrations(<install root>/infra/postgres/migrations)), as `caracal migrate validate`',
  run: async (ctx) => {
    const installed = installedMigrations(ctx);
    if ('failed' in installed) return installed.failed;
    const { dir, files } = installed;
    const violations = guardMigrations(files);
    // Every file with what the guard sees in it: a contract-phase file's drops are listed, and allowed.
    const raw = {
      name: 'guard.json',
      command: `guardMigrations(loadMigrations(${dir}))`,
      output: { dir, files: files.map((f) => ({ file: f.file, phase: f.phase, sha256: f.sha256, contract_ddl: findContractDdl(f.sql) })), violations },
    };
    const contract = files.filter((f) => f.phase === 'contract').length;
    return verdict(
      violations.map((v) => `${v.file}:${v.line}: ${v.construct} in an expand-phase file (it needs the header '-- caracal:phase contract')`),
      `${files.length} migration files pass the expand/contract guard (${contract} contract-phase)`,
      [raw],
    );
  },
};
