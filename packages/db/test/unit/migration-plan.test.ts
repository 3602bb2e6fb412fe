// Planning migrations without applying them (which the expand step applies, which wait for the contract step) and
// checking a release's migrations against the rows a database recorded.
import { describe, expect, it } from 'vitest';
import { parseMigrations, sha256Hex, type MigrationFile } from '../../src/migrations/files.js';
import { checkManifestEntries, parseManifest } from '../../src/migrations/manifest.js';
import { checkAppliedAgainst, planMigrations } from '../../src/migrations/plan.js';

const files = (entries: Record<string, string>): MigrationFile[] =>
  parseMigrations(Object.entries(entries).map(([file, sql]) => ({ file, path: `mem/${file}`, data: Buffer.from(sql) })));

const SET = files({
  '0001_create_zones.up.sql': 'CREATE TABLE zones (id int);',
  '0002_add_zone_label.up.sql': 'ALTER TABLE zones ADD COLUMN label text;',
  '0003_drop_legacy.up.sql': '-- caracal:phase contract\nDROP TABLE legacy;',
  '0004_add_zone_note.up.sql': 'ALTER TABLE zones ADD COLUMN note text;',
});
const row = (f: MigrationFile, sha = f.sha256) => ({ version: f.version, name: f.name, sha256: sha });

describe('parseMigrations', () => {
  it('reads in-memory files with the rules of loadMigrations: order, phase, checksum; .down.sql and non-SQL ignored', () => {
    const fs = files({ '0002_b_c.up.sql': 'SELECT 2;', '0001_a_b.up.sql': 'SELECT 1;', '0001_a_b.down.sql': 'x', 'manifest.json': '{}' });
    expect(fs.map((f) => [f.file, f.path, f.phase])).toEqual([
      ['0001_a_b.up.sql', 'mem/0001_a_b.up.sql', 'expand'],
      ['0002_b_c.up.sql', 'mem/0002_b_c.up.sql', 'expand'],
    ]);
    expect(fs[0]!.sha256).toBe(sha256Hex('SELECT 1;'));
    expect(() => files({ 'bad.up.sql': '' })).toThrow('bad.up.sql: name must be NNNN_<verb>_<object>.up.sql');
  });
});

describe('planMigrations', () => {
  it('on an empty database: files before the first contract one are expand, it and everything after wait', () => {
    const plan = planMigrations(SET, []);
    expect(plan).toMatchObject({ applied: [], changed: [], expand: ['0001_create_zones.up.sql', '0002_add_zone_label.up.sql'], contract: ['0003_drop_legacy.up.sql', '0004_add_zone_note.up.sql'] });
  });

  it('with allowContract, everything pending runs; applied and changed files are told apart', () => {
    const plan = planMigrations(SET, [row(SET[0]!), row(SET[1]!, 'f'.repeat(64))], true);
    expect(plan).toMatchObject({ applied: ['0001_create_zones.up.sql'], changed: ['0002_add_zone_label.up.sql'], expand: ['0003_drop_legacy.up.sql', '0004_add_zone_note.up.sql'], contract: [] });
    expect(plan.files.map((p) => p.state)).toEqual(['applied', 'changed', 'expand', 'expand']);
  });
});

describe('checkAppliedAgainst', () => {
  const manifest = Object.fromEntries(SET.map((f) => [f.file, f.sha256]));

  it('accepts a release that carries every applied migration byte for byte', () => {
    expect(checkAppliedAgainst(manifest, SET, SET.slice(0, 2).map((f) => row(f)))).toEqual([]);
  });

  it('names an applied migration the release does not have, one it has with another checksum, and a missing file', () => {
    const older = files({ '0001_create_zones.up.sql': 'CREATE TABLE zones (id int);' });
    expect(checkAppliedAgainst({ [older[0]!.file]: older[0]!.sha256 }, older, SET.slice(0, 2).map((f) => row(f)))).toEqual([
      { file: '0002_add_zone_label.up.sql', problem: 'is applied to the database but not in the manifest' },
    ]);
    expect(checkAppliedAgainst(manifest, SET, [row(SET[0]!, 'a'.repeat(64))])).toEqual([
      { file: '0001_create_zones.up.sql', problem: `is applied with sha256 aaaaaaaaaaaa…, the manifest says ${SET[0]!.sha256.slice(0, 12)}…` },
    ]);
    expect(checkAppliedAgainst(manifest, SET.slice(1), [row(SET[0]!)])).toEqual([{ file: '0001_create_zones.up.sql', problem: 'is applied to the database but its file is missing' }]);
  });
});

describe('parseManifest / checkManifestEntries', () => {
  it('reads a file → sha256 object and nothing else', () => {
    expect(parseManifest('{"a.up.sql":"00"}')).toEqual({ 'a.up.sql': '00' });
    for (const bad of ['[]', 'null', '{"a": 1}', 'not json']) expect(parseManifest(bad)).toBeUndefined();
  });
  it('names a released file that is missing or modified', () => {
    expect(checkManifestEntries({ '0001_create_zones.up.sql': 'x', '0009_gone_away.up.sql': 'y' }, SET)).toEqual([
      { file: '0001_create_zones.up.sql', problem: 'released file was modified (sha256 differs from the manifest)' },
      { file: '0009_gone_away.up.sql', problem: 'released file is missing' },
    ]);
  });
});
