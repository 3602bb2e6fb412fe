// R-AUD-1: the spill file format (one signed message per line), spill file names, serialised file work and the
// spill directory's fail-closed checks.
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SerialQueue } from '../../src/serial-queue.js';
import { SpillDirError, prepareSpillDir } from '../../src/spill-dir.js';
import { LineCounter, encodeSpillLine, parseSpillLine, splitSpillLines } from '../../src/spill-lines.js';
import { byStart, parseSpillFileName, spillFileName } from '../../src/spill-names.js';

const SIG = 'ab'.repeat(32);
const line = (data: string) => encodeSpillLine({ data, sig: SIG });

describe('spill lines', () => {
  it('encodes one JSON object per line, newlines inside the event escaped', () => {
    const buf = line('{"a":"x\\ny"}\n');
    expect(buf.toString('utf8').split('\n')).toHaveLength(2);
    expect(parseSpillLine(buf.toString('utf8').trimEnd())).toEqual({ data: '{"a":"x\\ny"}\n', sig: SIG });
  });

  it.each([
    ['not JSON', 'not json'],
    ['a JSON array', '["data","sig"]'],
    ['missing sig', '{"data":"{}"}'],
    ['missing data', `{"sig":"${SIG}"}`],
    ['a non-hex sig', '{"data":"{}","sig":"zz"}'],
    ['a short sig', '{"data":"{}","sig":"abcd"}'],
    ['data that is not a string', `{"data":{},"sig":"${SIG}"}`],
    ['JSON null', 'null'],
  ])('refuses %s as a message', (_name, text) => {
    expect(parseSpillLine(text)).toBeUndefined();
  });

  it('splits complete lines with their end offsets and leaves a partial tail for the next read', () => {
    const a = line('a');
    const b = line('b');
    const buf = Buffer.concat([a, b, Buffer.from('{"data":"c"')]);
    const lines = splitSpillLines(buf, 100, false);
    expect(lines.map((l) => l.end)).toEqual([100 + a.length, 100 + a.length + b.length]);
    expect(lines.map((l) => l.message?.data)).toEqual(['a', 'b']);
  });

  it('returns a torn final line at the end of a file, as corrupt', () => {
    const lines = splitSpillLines(Buffer.concat([line('a'), Buffer.from('{"data":"c"')]), 0, true);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.message).toBeUndefined();
    expect(lines[1]!.text.toString()).toBe('{"data":"c"');
  });

  it('returns blank lines with empty text, neither message nor corrupt content', () => {
    const lines = splitSpillLines(Buffer.from('\n\n'), 0, true);
    expect(lines.every((l) => l.text.length === 0 && l.message === undefined)).toBe(true);
    expect(lines.at(-1)!.end).toBe(2);
  });

  it('counts non-empty lines across chunk boundaries, a tail without newline included', () => {
    const c = new LineCounter();
    for (const part of ['{"a"', ':1}\n\n{"b":2}\n', '', '\n{"c"']) c.add(Buffer.from(part));
    expect(c.count).toBe(3);
  });
});

describe('spill file names', () => {
  it('carry source, owner pid and start time', () => {
    const name = spillFileName('gateway', 4242, 1700000000000, '0a1b2c3d');
    expect(name).toBe('audit-spill-gateway-4242-1700000000000-0a1b2c3d.ndjson');
    expect(parseSpillFileName(name)).toEqual({ source: 'gateway', pid: 4242, startMs: 1700000000000 });
    expect(parseSpillFileName(spillFileName('my-source', 7, 1, 'ffffffff'))).toEqual({ source: 'my-source', pid: 7, startMs: 1 });
  });

  it.each(['audit-spill-api-1-2-0a1b2c3d.ndjson.corrupt', 'audit-spill-api-x-2-0a1b2c3d.ndjson', 'other.ndjson', 'audit-spill-api-1-2.ndjson'])(
    'does not take %s for a spill file',
    (name) => expect(parseSpillFileName(name)).toBeUndefined(),
  );

  it('sort oldest first', () => {
    const names = [spillFileName('api', 1, 300, '00000000'), spillFileName('api', 2, 100, '00000000'), spillFileName('api', 3, 200, '00000000')];
    expect(names.sort(byStart).map((n) => parseSpillFileName(n)!.pid)).toEqual([2, 3, 1]);
  });
});

describe('SerialQueue', () => {
  it('runs tasks one at a time in order, and a failure does not stop the next task', async () => {
    const q = new SerialQueue();
    const seen: string[] = [];
    const slow = (name: string, ms: number) => async () => {
      seen.push(`${name}:start`);
      await new Promise((r) => setTimeout(r, ms));
      seen.push(`${name}:end`);
      return name;
    };
    const a = q.run(slow('a', 20));
    const b = q.run(async () => {
      throw new Error('b failed');
    });
    const c = q.run(slow('c', 1));
    await expect(b).rejects.toThrow('b failed');
    expect(await Promise.all([a, c])).toEqual(['a', 'c']);
    expect(seen).toEqual(['a:start', 'a:end', 'c:start', 'c:end']);
  });
});

describe('prepareSpillDir', () => {
  let root: string | undefined;
  const tmp = () => (root = mkdtempSync(join(tmpdir(), 'caracal-spill-unit-')));
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  it('creates a missing directory, parents included, with mode 0700', () => {
    const dir = join(tmp(), 'spool', 'api');
    prepareSpillDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(root!, 'spool')).mode & 0o777).toBe(0o700);
    prepareSpillDir(dir);
  });

  it('refuses a directory open to group or others, naming it', () => {
    const dir = tmp();
    chmodSync(dir, 0o750);
    expect(() => prepareSpillDir(dir)).toThrow(new SpillDirError(`${dir} must have mode 0700, not 0750`));
  });

  it('refuses a regular file, naming it', () => {
    const file = join(tmp(), 'file');
    writeFileSync(file, '');
    expect(() => prepareSpillDir(file)).toThrow(`${file} is not a directory`);
  });

  it('refuses a path below a regular file, naming it', () => {
    const file = join(tmp(), 'file');
    writeFileSync(file, '');
    expect(() => prepareSpillDir(join(file, 'spool'))).toThrow(`${join(file, 'spool')} cannot be created (ENOTDIR)`);
  });

  it('refuses a directory owned by another user', () => {
    const dir = tmp();
    const other = (statSync(dir).uid + 1) % 65536;
    expect(() => prepareSpillDir(dir, other)).toThrow(`${dir} belongs to uid ${statSync(dir).uid}, not to this user (uid ${other})`);
  });
});
