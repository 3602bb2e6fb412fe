// How scripts/bundle.mjs writes a bundle other processes may be starting from at that moment: the same bytes leave
// the file in place and only mark it current; new bytes replace it whole, by a rename, never by a rewrite in place.
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replaceFile } from '../../../../scripts/lib/replace-file.mjs';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-replace-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('replaceFile', () => {
  it('creates a missing file', () => {
    const f = join(dir, 'service.mjs');
    expect(replaceFile(f, Buffer.from('one'))).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe('one');
    expect(readdirSync(dir)).toEqual(['service.mjs']);
  });

  it('leaves the same bytes where they are (same inode) and marks the file current', () => {
    const f = join(dir, 'service.mjs');
    writeFileSync(f, 'same');
    utimesSync(f, 1_000_000, 1_000_000);
    const before = statSync(f);
    expect(replaceFile(f, Buffer.from('same'))).toBe(false);
    const after = statSync(f);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBeGreaterThan(before.mtimeMs);
  });

  it('replaces new bytes by a rename: a reader holding the old file still reads it whole, and no temp file is left', () => {
    const f = join(dir, 'service.mjs');
    writeFileSync(f, 'old content');
    const before = statSync(f);
    const fd = openSync(f, 'r');
    try {
      expect(replaceFile(f, Buffer.from('new'))).toBe(true);
      expect(statSync(f).ino).not.toBe(before.ino);
      expect(readFileSync(f, 'utf8')).toBe('new');
      const buf = Buffer.alloc(64);
      expect(buf.toString('utf8', 0, readSync(fd, buf, 0, 64, 0))).toBe('old content');
    } finally {
      closeSync(fd);
    }
    expect(readdirSync(dir)).toEqual(['service.mjs']);
  });
});
