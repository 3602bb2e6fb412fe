// R-MIG-1 migration files: naming and versions, the frozen checksum manifest, template rendering, role names.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, MigrationFileError } from '../../src/migrations/files.js';
import { checkManifest, writeManifest } from '../../src/migrations/manifest.js';
import { quoteIdent, renderMigration } from '../../src/migrations/render.js';
import { roleName, rolePrefixFor } from '../../src/roles.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-migrations-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const put = (name: string, sql: string) => writeFileSync(join(dir, name), sql);

describe('loadMigrations', () => {
  it('loads .up.sql files in version order with checksums and phases, ignoring .down.sql and other files', () => {
    put('0002_add_grant_ttl.up.sql', 'ALTER TABLE grants ADD COLUMN ttl int;');
    put('0001_create_grants.up.sql', 'CREATE TABLE grants (id int);');
    put('0001_create_grants.down.sql', 'DROP TABLE grants;');
    put('0003_drop_legacy.up.sql', '-- caracal:phase contract\nDROP TABLE legacy;');
    put('manifest.json', '{}');
    put('README.md', '# notes');
    const files = loadMigrations(dir);
    expect(files.map((f) => [f.version, f.name, f.phase])).toEqual([
      [1, '0001_create_grants', 'expand'],
      [2, '0002_add_grant_ttl', 'expand'],
      [3, '0003_drop_legacy', 'contract'],
    ]);
    expect(files[0]!.sha256).toBe(createHash('sha256').update('CREATE TABLE grants (id int);').digest('hex'));
    expect(files[0]!.path).toBe(join(dir, '0001_create_grants.up.sql'));
  });

  it.each(['1_create_grants.up.sql', '0001_Create_grants.up.sql', '0001_create.up.sql', '0001_create_grants.sql', '0001-create-grants.up.sql', '00001_create_grants.up.sql'])(
    'rejects the badly named %s, naming it',
    (name) => {
      put(name, 'SELECT 1;');
      expect(() => loadMigrations(dir)).toThrow(MigrationFileError);
      expect(() => loadMigrations(dir)).toThrow(`${name}: name must be NNNN_<verb>_<object>.up.sql`);
    },
  );

  it('rejects two files with the same version, naming both', () => {
    put('0001_create_grants.up.sql', 'SELECT 1;');
    put('0001_create_zones.up.sql', 'SELECT 1;');
    expect(() => loadMigrations(dir)).toThrow('0001_create_zones.up.sql: version 0001 is also used by 0001_create_grants.up.sql');
  });

  it('rejects a directory it cannot read', () => {
    expect(() => loadMigrations(join(dir, 'missing'))).toThrow(MigrationFileError);
  });
});

describe('checkManifest / writeManifest', () => {
  it('accepts files that match the manifest and new files not yet released', () => {
    put('0001_create_grants.up.sql', 'CREATE TABLE grants (id int);');
    writeManifest(dir, loadMigrations(dir));
    put('0002_add_grant_ttl.up.sql', 'ALTER TABLE grants ADD COLUMN ttl int;');
    expect(checkManifest(dir, loadMigrations(dir))).toEqual([]);
  });

  it('detects a released file that was modified, even by one byte', () => {
    put('0001_create_grants.up.sql', 'CREATE TABLE grants (id int);');
    writeManifest(dir, loadMigrations(dir));
    put('0001_create_grants.up.sql', 'CREATE TABLE grants (id int); ');
    expect(checkManifest(dir, loadMigrations(dir))).toEqual([
      { file: '0001_create_grants.up.sql', problem: 'released file was modified (sha256 differs from the manifest)' },
    ]);
  });

  it('detects a released file that is missing', () => {
    put('0001_create_grants.up.sql', 'CREATE TABLE grants (id int);');
    put('0002_add_grant_ttl.up.sql', 'ALTER TABLE grants ADD COLUMN ttl int;');
    writeManifest(dir, loadMigrations(dir));
    rmSync(join(dir, '0001_create_grants.up.sql'));
    expect(checkManifest(dir, loadMigrations(dir))).toEqual([{ file: '0001_create_grants.up.sql', problem: 'released file is missing' }]);
  });

  it('never rewrites a released entry, so a modified file stays detected after writeManifest', () => {
    put('0001_create_grants.up.sql', 'CREATE TABLE grants (id int);');
    writeManifest(dir, loadMigrations(dir));
    put('0001_create_grants.up.sql', 'CREATE TABLE grants (id bigint);');
    writeManifest(dir, loadMigrations(dir));
    expect(checkManifest(dir, loadMigrations(dir))).toHaveLength(1);
  });

  it.each([
    ['absent', undefined],
    ['not JSON', '{"0001_create_grants.up.sql": '],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
  ])('reports a manifest that is %s', (_label, content) => {
    put('0001_create_grants.up.sql', 'SELECT 1;');
    if (content !== undefined) put('manifest.json', content);
    expect(checkManifest(dir, loadMigrations(dir))).toEqual([{ file: 'manifest.json', problem: 'missing or not a JSON object' }]);
  });
});

describe('renderMigration', () => {
  const ctx = { rolePrefix: 'caracal_t1', database: 'caracal_db' };

  it('replaces role and database tokens with quoted names', () => {
    const sql = 'GRANT SELECT ON zones TO {{role.api}}, {{ role.audit }};\nALTER DATABASE {{database}} SET x = 1;';
    expect(renderMigration(sql, ctx)).toBe('GRANT SELECT ON zones TO "caracal_t1_api", "caracal_t1_audit";\nALTER DATABASE "caracal_db" SET x = 1;');
  });

  it('doubles quotes inside a name rather than letting it close the identifier', () => {
    expect(renderMigration('ALTER DATABASE {{database}};', { ...ctx, database: 'we"ird' })).toBe('ALTER DATABASE "we""ird";');
    expect(quoteIdent('a"b"c')).toBe('"a""b""c"');
  });

  it.each(['{{role.admin}}', '{{role}}', '{{database.api}}', '{{zone}}', '{{role.api_x}}', '{{role.API}}', '{{Database}}', '{{role.api-x}}'])('throws on the unknown token %s', (token) => {
    expect(() => renderMigration(`GRANT ALL ON t TO ${token};`, ctx)).toThrow(`unknown template token ${token}`);
  });

  it('refuses a role prefix that could break out of the identifier', () => {
    expect(() => renderMigration('GRANT ALL ON t TO {{role.api}};', { ...ctx, rolePrefix: 'x"; DROP ROLE postgres; --' })).toThrow(TypeError);
    expect(() => renderMigration('GRANT ALL ON t TO {{role.api}};', { ...ctx, rolePrefix: 'Upper' })).toThrow(TypeError);
  });
});

describe('role names', () => {
  it('prefixes the service name', () => {
    expect(roleName('caracal', 'gateway')).toBe('caracal_gateway');
  });

  it.each(['', '1abc', 'a-b', 'a'.repeat(42), 'abc;'])('refuses the prefix %j', (prefix) => {
    expect(() => roleName(prefix, 'api')).toThrow(TypeError);
  });

  it('derives a valid prefix from any database name', () => {
    for (const db of ['Caracal-Prod', '9lives', '---', 'x'.repeat(80), 'zone.db']) {
      expect(() => roleName(rolePrefixFor(db), 'api'), db).not.toThrow();
    }
    expect(rolePrefixFor('Caracal-Prod')).toBe('caracal_prod');
    expect(rolePrefixFor('---')).toBe('caracal');
  });
});
