// readSecretFile: one secret per file; unusable files are refused with the path named and the value never shown.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSecretFile } from '../../src/read-secret-file.js';

const SECRET = 'S3CRET-canary-7f3a9b';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-secret-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, content: string, mode = 0o400): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

function problemOf(path: string): string {
  const r = readSecretFile(path);
  if (r.ok) throw new Error(`expected ${path} to be refused`);
  return r.problem;
}

describe('readSecretFile', () => {
  it('returns the content of a single-line file', () => {
    expect(readSecretFile(secretFile('k', SECRET))).toEqual({ ok: true, value: SECRET });
  });

  it('tolerates exactly one trailing newline (LF or CRLF)', () => {
    expect(readSecretFile(secretFile('lf', `${SECRET}\n`))).toEqual({ ok: true, value: SECRET });
    expect(readSecretFile(secretFile('crlf', `${SECRET}\r\n`))).toEqual({ ok: true, value: SECRET });
  });

  it('keeps surrounding spaces: a secret is taken byte for byte, not trimmed', () => {
    expect(readSecretFile(secretFile('sp', ` ${SECRET} `))).toEqual({ ok: true, value: ` ${SECRET} ` });
  });

  it('refuses a missing path and names it', () => {
    const path = join(dir, 'does-not-exist');
    expect(problemOf(path)).toBe(`${path} cannot be read (no such file)`);
  });

  it('refuses a path under a missing directory and names it', () => {
    const path = join(dir, 'nope', 'key');
    expect(problemOf(path)).toBe(`${path} cannot be read (no such file)`);
  });

  it('refuses a directory and names it', () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    expect(problemOf(path)).toBe(`${path} is not a regular file`);
  });

  it('refuses an empty file', () => {
    const path = secretFile('empty', '');
    expect(problemOf(path)).toBe(`${path} is empty`);
  });

  it('refuses a file holding only a newline', () => {
    const path = secretFile('nl', '\n');
    expect(problemOf(path)).toBe(`${path} is empty`);
  });

  it('refuses a world-writable file, names the path and mode, and does not show the value', () => {
    const path = secretFile('ww', SECRET, 0o666);
    const problem = problemOf(path);
    expect(problem).toBe(`${path} is world-writable (mode 666)`);
    expect(problem).not.toContain(SECRET);
  });

  it('refuses a world-writable file even when it is not group-writable', () => {
    const path = secretFile('ww2', SECRET, 0o602);
    expect(problemOf(path)).toBe(`${path} is world-writable (mode 602)`);
  });

  it('refuses more than one line without showing any of them', () => {
    const path = secretFile('multi', `${SECRET}\nsecond-line-${SECRET}\n`);
    const problem = problemOf(path);
    expect(problem).toBe(`${path} holds more than one line`);
    expect(problem).not.toContain(SECRET);
  });

  it('refuses two trailing newlines (only one is tolerated)', () => {
    const path = secretFile('two-nl', `${SECRET}\n\n`);
    expect(problemOf(path)).toBe(`${path} holds more than one line`);
  });

  it('refuses a bare carriage return inside the value', () => {
    const path = secretFile('cr', `${SECRET}\rmore`);
    expect(problemOf(path)).toBe(`${path} holds more than one line`);
  });
});
