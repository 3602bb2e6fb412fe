// The expand-only guard (R-MIG-2): contract-phase DDL is refused unless the file carries the contract header.
import type { MigrationFile } from './files.js';
import { stripSql } from './strip-sql.js';

export interface GuardViolation {
  file: string;
  line: number;
  construct: string;
}

const RULES: ReadonlyArray<{ construct: string; pattern: RegExp }> = [
  { construct: 'DROP TABLE', pattern: /\bDROP\s+TABLE\b/gi },
  { construct: 'DROP SCHEMA', pattern: /\bDROP\s+SCHEMA\b/gi },
  { construct: 'DROP TYPE', pattern: /\bDROP\s+TYPE\b/gi },
  { construct: 'DROP COLUMN', pattern: /\bDROP\s+COLUMN\b/gi },
  // `ALTER TABLE t DROP c` drops a column too: COLUMN is an optional keyword.
  {
    construct: 'DROP COLUMN',
    pattern: /\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?:"(?:[^"]|"")*"|[\w.])+\s*\*?\s+DROP\s+(?!COLUMN\b|CONSTRAINT\b)(?:IF\s+EXISTS\s+)?[\w"]+/gi,
  },
  { construct: 'DROP COLUMN', pattern: /,\s*DROP\s+(?!COLUMN\b|CONSTRAINT\b)(?:IF\s+EXISTS\s+)?[\w"]+/gi },
  { construct: 'RENAME', pattern: /\bRENAME\b/gi },
  // Quoted names may hold spaces (`"legacy grants"`), so they are matched as a whole.
  { construct: 'ALTER COLUMN ... TYPE', pattern: /\bALTER\s+(?:COLUMN\s+)?(?:"(?:[^"]|"")*"|\w+)\s+(?:SET\s+DATA\s+)?TYPE\b/gi },
  { construct: 'SET NOT NULL', pattern: /\bSET\s+NOT\s+NULL\b/gi },
];

export function findContractDdl(sql: string): Array<{ line: number; construct: string }> {
  const text = stripSql(sql);
  const hits: Array<{ line: number; construct: string; index: number }> = [];
  for (const rule of RULES) {
    for (const m of text.matchAll(rule.pattern)) {
      const index = m.index ?? 0;
      if (hits.some((h) => h.index === index)) continue;
      hits.push({ construct: rule.construct, index, line: text.slice(0, index).split('\n').length });
    }
  }
  return hits.sort((a, b) => a.index - b.index).map(({ line, construct }) => ({ line, construct }));
}

export function guardMigrations(files: readonly MigrationFile[]): GuardViolation[] {
  const violations: GuardViolation[] = [];
  for (const f of files) {
    if (f.phase === 'contract') continue;
    for (const hit of findContractDdl(f.sql)) violations.push({ file: f.file, ...hit });
  }
  return violations;
}
