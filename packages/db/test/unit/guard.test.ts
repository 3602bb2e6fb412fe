// R-MIG-2 expand-only guard: contract DDL found in any case and across lines, never inside comments or strings.
import { describe, expect, it } from 'vitest';
import { phaseOf, sha256Hex, type MigrationFile } from '../../src/migrations/files.js';
import { findContractDdl, guardMigrations } from '../../src/migrations/guard.js';

function migration(file: string, sql: string): MigrationFile {
  return { version: Number(file.slice(0, 4)), name: file.replace(/\.up\.sql$/, ''), file, path: `/m/${file}`, sql, sha256: sha256Hex(sql), phase: phaseOf(sql) };
}

const constructs = (sql: string) => findContractDdl(sql).map((h) => h.construct);

/** The same statement with every space turned into a line break plus indentation, in alternating case. */
function splitAndMixCase(sql: string): string {
  let upper = false;
  const mixed = [...sql].map((ch) => ((upper = !upper) ? ch.toUpperCase() : ch.toLowerCase())).join('');
  return mixed.replace(/ /g, '\n   ');
}

const CONTRACT: Array<[string, string]> = [
  ['DROP TABLE sessions;', 'DROP TABLE'],
  ['DROP TABLE IF EXISTS sessions CASCADE;', 'DROP TABLE'],
  ['DROP SCHEMA legacy CASCADE;', 'DROP SCHEMA'],
  ['DROP TYPE grant_kind;', 'DROP TYPE'],
  ['ALTER TABLE grants DROP COLUMN max_ttl;', 'DROP COLUMN'],
  ['ALTER TABLE grants DROP max_ttl;', 'DROP COLUMN'],
  ['ALTER TABLE grants DROP IF EXISTS max_ttl;', 'DROP COLUMN'],
  ['ALTER TABLE IF EXISTS ONLY caracal.grants DROP max_ttl;', 'DROP COLUMN'],
  ['ALTER TABLE grants ADD COLUMN a int, DROP b;', 'DROP COLUMN'],
  ['ALTER TABLE grants ALTER COLUMN a DROP DEFAULT, DROP b;', 'DROP COLUMN'],
  ['ALTER TABLE grants RENAME TO grants_old;', 'RENAME'],
  ['ALTER TABLE grants RENAME COLUMN ttl TO max_ttl;', 'RENAME'],
  ['ALTER TABLE grants RENAME ttl TO max_ttl;', 'RENAME'],
  ['ALTER TABLE grants ALTER COLUMN ttl TYPE bigint;', 'ALTER COLUMN ... TYPE'],
  ['ALTER TABLE grants ALTER COLUMN ttl SET DATA TYPE bigint;', 'ALTER COLUMN ... TYPE'],
  ['ALTER TABLE grants ALTER ttl TYPE bigint;', 'ALTER COLUMN ... TYPE'],
  ['ALTER TABLE grants ALTER COLUMN zone_id SET NOT NULL;', 'SET NOT NULL'],
  // Quoted identifiers may hold spaces.
  ['ALTER TABLE "legacy grants" DROP ttl;', 'DROP COLUMN'],
  ['ALTER TABLE grants ALTER COLUMN "max ttl" TYPE bigint;', 'ALTER COLUMN ... TYPE'],
];

describe('findContractDdl: rejects contract-phase DDL', () => {
  it.each(CONTRACT)('%s', (sql, construct) => {
    expect(constructs(sql)).toEqual([construct]);
  });

  it.each(CONTRACT)('split across lines and in mixed case: %s', (sql, construct) => {
    expect(constructs(splitAndMixCase(sql))).toEqual([construct]);
  });

  it('finds DDL inside a dollar-quoted body (DO blocks and functions are code)', () => {
    expect(constructs('DO $$ BEGIN DROP TABLE x; END $$;')).toEqual(['DROP TABLE']);
    expect(constructs('CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $fn$ ALTER TABLE t DROP c $fn$;')).toEqual(['DROP COLUMN']);
  });

  it('reports every construct in a file, in order', () => {
    expect(constructs('ALTER TABLE a RENAME TO b;\nCREATE TABLE c (id int);\nDROP TYPE k;\nALTER TABLE c ALTER COLUMN id SET NOT NULL;')).toEqual([
      'RENAME',
      'DROP TYPE',
      'SET NOT NULL',
    ]);
  });
});

describe('findContractDdl: ignores comments and literals', () => {
  it.each([
    ['a line comment', '-- DROP TABLE sessions; then RENAME and SET NOT NULL\nCREATE TABLE a (id int);'],
    ['a trailing line comment', 'CREATE TABLE a (id int); -- was: DROP COLUMN b'],
    ['a block comment over lines', '/* DROP TABLE sessions;\n   ALTER TABLE t DROP c;\n*/ CREATE TABLE a (id int);'],
    ['a nested block comment', '/* outer /* inner */ DROP TABLE still_a_comment; */ CREATE TABLE a (id int);'],
    ['a string literal', "COMMENT ON TABLE a IS 'DROP TABLE a; RENAME; SET NOT NULL';"],
    ['a string literal with doubled quotes', "INSERT INTO notes VALUES ('it''s fine to DROP TABLE here'); CREATE TABLE b (id int);"],
    ['a string literal over lines', "INSERT INTO notes VALUES ('line one\nALTER COLUMN c TYPE text\nline three');"],
  ])('inside %s', (_label, sql) => {
    expect(findContractDdl(sql)).toEqual([]);
  });

  it('still finds DDL that follows a comment or a literal', () => {
    expect(constructs("-- harmless\nINSERT INTO n VALUES ('x'); /* c */ DROP TABLE n;")).toEqual(['DROP TABLE']);
  });

  // Each of these once let a literal or a name swallow the statements after it.
  it.each([
    ['an apostrophe in a dollar-quoted literal', "COMMENT ON TABLE t IS $$it's$$;\nDROP TABLE x;\nCOMMENT ON TABLE u IS 'y';"],
    ['an apostrophe in a quoted identifier', 'CREATE TABLE "it\'s" (a int);\nDROP TABLE x;\nCOMMENT ON TABLE u IS \'y\';'],
    ['a double dash in a quoted identifier', 'CREATE TABLE "a--b" (a int); DROP TABLE x;'],
    ['a backslash-escaped quote in an E string', "SELECT E'\\'';\nDROP TABLE x; -- '"],
  ])('is not blinded by %s', (_label, sql) => {
    expect(constructs(sql)).toEqual(['DROP TABLE']);
  });
});

describe('findContractDdl: accepts expand-phase DDL', () => {
  it.each([
    'CREATE TABLE grants (id uuid PRIMARY KEY, zone_id uuid NOT NULL, ttl int NOT NULL DEFAULT 60);',
    'ALTER TABLE grants ADD COLUMN max_ttl int;',
    'ALTER TABLE grants ADD COLUMN IF NOT EXISTS note text NOT NULL DEFAULT \'\';',
    'ALTER TABLE grants DROP CONSTRAINT grants_ttl_check;',
    'ALTER TABLE grants DROP CONSTRAINT IF EXISTS grants_ttl_check;',
    'ALTER TABLE grants ADD COLUMN a int, DROP CONSTRAINT old_check;',
    'ALTER TABLE grants ALTER COLUMN ttl DROP NOT NULL;',
    'ALTER TABLE grants ALTER COLUMN ttl DROP DEFAULT;',
    'ALTER TABLE grants ALTER COLUMN ttl SET DEFAULT 60;',
    "ALTER TYPE grant_kind ADD VALUE 'delegated';",
    'CREATE TYPE grant_kind AS ENUM (\'direct\');',
    'CREATE INDEX grants_zone ON grants (zone_id);',
    'SELECT a, drop_reason, renamed_at FROM audit_events;',
  ])('%s', (sql) => {
    expect(findContractDdl(sql)).toEqual([]);
  });
});

describe('findContractDdl: line numbers', () => {
  it('gives the 1-based line of the construct, counting lines inside comments and strings', () => {
    const sql = "/* header\n   over two lines */\nINSERT INTO n VALUES ('a\nb');\n\nALTER TABLE n\n  DROP COLUMN b;\nDROP TYPE k;";
    expect(findContractDdl(sql)).toEqual([
      { line: 7, construct: 'DROP COLUMN' },
      { line: 8, construct: 'DROP TYPE' },
    ]);
  });

  it('counts CRLF files the same way', () => {
    expect(findContractDdl('CREATE TABLE a (id int);\r\n-- x\r\nDROP TABLE a;\r\n')).toEqual([{ line: 3, construct: 'DROP TABLE' }]);
  });

  it('is line 1 for a first-line statement', () => {
    expect(findContractDdl('DROP SCHEMA s;')).toEqual([{ line: 1, construct: 'DROP SCHEMA' }]);
  });
});

describe('phase header and guardMigrations', () => {
  it('rejects contract DDL in an expand file, naming file, line and construct', () => {
    const files = [migration('0001_create_grants.up.sql', 'CREATE TABLE grants (id int);'), migration('0002_drop_ttl.up.sql', '-- tidy up\n\nALTER TABLE grants DROP ttl;')];
    expect(guardMigrations(files)).toEqual([{ file: '0002_drop_ttl.up.sql', line: 3, construct: 'DROP COLUMN' }]);
  });

  it('accepts contract DDL when the header is among the leading comment lines', () => {
    const sql = '-- Drops the old ttl column.\n-- caracal:phase contract\n\n-- more words\nALTER TABLE grants DROP COLUMN ttl;';
    expect(phaseOf(sql)).toBe('contract');
    expect(guardMigrations([migration('0003_drop_ttl.up.sql', sql)])).toEqual([]);
  });

  it('accepts the header with extra spacing', () => {
    expect(phaseOf('  --   caracal:phase   contract  \nDROP TABLE x;')).toBe('contract');
  });

  it('ignores the header once SQL has started', () => {
    const sql = '-- intro\nCREATE TABLE x (id int);\n-- caracal:phase contract\nDROP TABLE y;';
    expect(phaseOf(sql)).toBe('expand');
    expect(guardMigrations([migration('0004_drop_y.up.sql', sql)])).toEqual([{ file: '0004_drop_y.up.sql', line: 4, construct: 'DROP TABLE' }]);
  });

  it.each([
    ['another phase', '-- caracal:phase expand\nDROP TABLE y;'],
    ['trailing words', '-- caracal:phase contract please\nDROP TABLE y;'],
    ['a block comment', '/* caracal:phase contract */\nDROP TABLE y;'],
    ['a misspelt key', '-- caracal:phases contract\nDROP TABLE y;'],
  ])('does not treat %s as the contract header', (_label, sql) => {
    expect(phaseOf(sql)).toBe('expand');
    expect(guardMigrations([migration('0005_drop_y.up.sql', sql)])).toHaveLength(1);
  });
});
