import { describe, expect, it } from 'vitest';
import { parseEnvFile } from '../../src/env-file.js';

describe('parseEnvFile', () => {
  it('reads KEY=value lines, skipping comments and blanks, and unquotes values', () => {
    const r = parseEnvFile('# c\n\nA=1\nB="two words"\nC=\n', 'caracal.env');
    expect(r.problems).toEqual([]);
    expect(r.values).toEqual({ A: '1', B: 'two words', C: '' });
  });

  it('names every malformed line with its number', () => {
    const r = parseEnvFile('A=1\nthis is junk\nlower=x\nA=2\n', 'caracal.env');
    expect(r.problems).toEqual(['caracal.env:2: expected KEY=value', 'caracal.env:3: expected KEY=value', 'caracal.env:4: A is set twice']);
  });

  it('refuses binary content', () => {
    expect(parseEnvFile('A=1\u0000', 'f').problems).toEqual(['f: contains a NUL byte']);
  });
});
