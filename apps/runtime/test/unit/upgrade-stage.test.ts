// Reading a release archive and staging it: entries that may not be unpacked are refused before anything is
// written, a broken stream is named, a staged tree lands by rename (never half there), the same archive is reused
// and a different one under the same version is refused.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Release } from '../../src/upgrade/release-source.js';
import { stageRelease, STAGED_MARKER } from '../../src/upgrade/stage.js';
import { ArchiveError, readTarGz, refusedEntry, type TarEntry } from '../../src/archive/tar-read.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-stage-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const TOP = 'caracal-1.2.3';
const LONG = `${'deep/'.repeat(30)}file.txt`;

/** A release tree whose CLI prints `version`, packed by GNU tar in the POSIX (pax) format. */
function packTree(version = '1.2.3', extra?: (tree: string) => void, tarArgs: string[] = []): string {
  const src = join(dir, `src-${Math.random().toString(16).slice(2)}`);
  const tree = join(src, `caracal-${version}`);
  mkdirSync(join(tree, 'apps', 'runtime', 'bin'), { recursive: true });
  writeFileSync(join(tree, 'apps', 'runtime', 'bin', 'caracal.js'), `console.log(${JSON.stringify(version)});\n`);
  chmodSync(join(tree, 'apps', 'runtime', 'bin', 'caracal.js'), 0o755);
  mkdirSync(join(tree, 'deep'), { recursive: true });
  mkdirSync(join(tree, LONG, '..'), { recursive: true });
  writeFileSync(join(tree, LONG), 'long path\n');
  symlinkSync('apps/runtime/bin/caracal.js', join(tree, 'cli'));
  extra?.(tree);
  const archive = join(dir, `caracal-${version}-${Math.random().toString(16).slice(2)}.tar.gz`);
  execFileSync('tar', ['--format=posix', '-czf', archive, '-C', src, ...tarArgs, `caracal-${version}`]);
  return archive;
}

async function list(archive: string): Promise<{ entries: TarEntry[]; files: Record<string, string>; sha256: string }> {
  const entries: TarEntry[] = [];
  const files: Record<string, string> = {};
  const { sha256 } = await readTarGz(archive, (e) => {
    entries.push(e);
    if (e.kind !== 'file') return undefined;
    const parts: Buffer[] = [];
    return { data: (c) => parts.push(Buffer.from(c)), end: () => (files[e.path] = Buffer.concat(parts).toString('utf8')) };
  });
  return { entries, files, sha256 };
}

async function release(archive: string, version = '1.2.3'): Promise<Release> {
  const { entries, sha256 } = await list(archive);
  return { source: archive, dir, version, archive, archiveSha256: sha256, entries: entries.length, unpackedBytes: entries.reduce((n, e) => n + e.size, 0), migrations: [], migrationManifest: {}, remove: () => undefined };
}

describe('readTarGz', () => {
  it('reads files, directories, executables, symlinks and pax long paths, hashing the compressed bytes', async () => {
    const archive = packTree();
    const { entries, files, sha256 } = await list(archive);
    expect(sha256).toBe(execFileSync('sha256sum', [archive], { encoding: 'utf8' }).split(' ')[0]);
    expect(files[`${TOP}/${LONG}`]).toBe('long path\n');
    expect(entries.find((e) => e.path === `${TOP}/apps/runtime/bin/caracal.js`)).toMatchObject({ kind: 'file', executable: true });
    expect(entries.find((e) => e.path === `${TOP}/cli`)).toMatchObject({ kind: 'symlink', link: 'apps/runtime/bin/caracal.js' });
    expect(entries.find((e) => e.path.startsWith(`${TOP}/deep`))?.kind).toBe('dir');
  });

  it('names a truncated archive, a corrupt header and a stream that is not gzip', async () => {
    const archive = packTree();
    const truncated = join(dir, 'truncated.tar.gz');
    writeFileSync(truncated, readFileSync(archive).subarray(0, 300));
    await expect(list(truncated)).rejects.toThrow(ArchiveError);
    await expect(list(truncated)).rejects.toThrow(/not a readable gzip stream|ends early/);
    const raw = join(dir, 'raw.tar');
    execFileSync('sh', ['-c', `gzip -dc '${archive}' > '${raw}'`]);
    const bytes = readFileSync(raw);
    bytes[0] = bytes[0]! ^ 0x01;
    writeFileSync(raw, bytes);
    execFileSync('gzip', ['-f', raw]);
    await expect(list(`${raw}.gz`)).rejects.toThrow('header 1 has a bad checksum');
    const plain = join(dir, 'plain.tar.gz');
    writeFileSync(plain, 'not gzip at all');
    await expect(list(plain)).rejects.toThrow('not a readable gzip stream');
    truncateSync(plain, 0);
    await expect(list(plain)).rejects.toThrow(ArchiveError);
  });

  it('refuses hard links and special files', async () => {
    const archive = packTree('1.2.3', (tree) => linkSync(join(tree, 'apps', 'runtime', 'bin', 'caracal.js'), join(tree, 'hard')));
    await expect(list(archive)).rejects.toThrow('is a hard link; an archive holds only files, directories and symbolic links');
  });
});

describe('refusedEntry', () => {
  const entry = (path: string, kind: TarEntry['kind'] = 'file', link?: string): TarEntry => ({ path, kind, size: 0, executable: false, ...(link ? { link } : {}) });
  it('accepts paths under the release top and links that stay inside it', () => {
    expect(refusedEntry(TOP, entry(`${TOP}/`, 'dir'))).toBeUndefined();
    expect(refusedEntry(TOP, entry(`${TOP}/a/b.js`))).toBeUndefined();
    expect(refusedEntry(TOP, entry(`${TOP}/node_modules/.bin/x`, 'symlink', '../x/bin.js'))).toBeUndefined();
  });
  it.each([
    [`caracal-9.9.9/a.js`, 'file', undefined, 'outside caracal-1.2.3/'],
    [`/etc/passwd`, 'file', undefined, 'outside'],
    [`${TOP}/../escape.js`, 'file', undefined, 'an empty, "." or ".." path segment'],
    [`${TOP}//double.js`, 'file', undefined, 'an empty'],
    [`${TOP}/./a.js`, 'file', undefined, '"."'],
    [`${TOP}/a\u0007.js`, 'file', undefined, 'a control character'],
    [`${TOP}/a\\b.js`, 'file', undefined, 'backslash'],
    [`${TOP}/link`, 'symlink', '/etc/passwd', 'points outside the release'],
    [`${TOP}/a/link`, 'symlink', '../../../etc', 'points outside the release'],
    [`${TOP}/link`, 'symlink', '..', 'points outside the release'],
  ] as const)('refuses %j', (path, kind, link, why) => {
    expect(refusedEntry(TOP, entry(path, kind, link))).toContain(why);
  });
});

describe('stageRelease', () => {
  const home = () => join(dir, 'home');
  beforeEach(() => mkdirSync(home()));

  it('unpacks into versions/<v> by rename, with modes, links and a marker; the same archive is reused', async () => {
    const rel = await release(packTree());
    const staged = await stageRelease(home(), rel);
    const root = join(home(), 'versions', '1.2.3');
    expect(staged).toEqual({ root, reused: false });
    expect(readdirSync(join(home(), 'versions'))).toEqual(['1.2.3']);
    expect(lstatSync(join(home(), 'versions')).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(root, 'apps', 'runtime', 'bin', 'caracal.js')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(root, LONG)).mode & 0o777).toBe(0o644);
    expect(readlinkSync(join(root, 'cli'))).toBe('apps/runtime/bin/caracal.js');
    expect(JSON.parse(readFileSync(join(root, STAGED_MARKER), 'utf8'))).toMatchObject({ version: '1.2.3', archiveSha256: rel.archiveSha256 });
    expect(await stageRelease(home(), rel)).toEqual({ root, reused: true });
  });

  it('refuses a different archive under an already staged version, and leaves that tree alone', async () => {
    await stageRelease(home(), await release(packTree()));
    const other = await release(packTree('1.2.3', (tree) => writeFileSync(join(tree, 'extra'), 'x')));
    const root = join(home(), 'versions', '1.2.3');
    await expect(stageRelease(home(), other)).rejects.toThrow(`${root} already holds a caracal 1.2.3 that was not staged from this archive`);
    expect(existsSync(join(root, 'extra'))).toBe(false);
  });

  it('refuses an archive with an entry outside the release and leaves no staging directory', async () => {
    const archive = packTree('1.2.3', undefined, ['--transform', 's,^caracal-1.2.3/deep$,caracal-1.2.3/../deep,']);
    // Reading the archive refuses nothing by itself; staging checks every entry before writing it.
    await expect(stageRelease(home(), await release(archive))).rejects.toThrow('refused entry caracal-1.2.3/../deep');
    expect(readdirSync(join(home(), 'versions'))).toEqual([]);
    expect(existsSync(join(dir, 'deep'))).toBe(false);
  });

  it('refuses a tree whose CLI does not report the release version', async () => {
    const rel = await release(packTree('1.2.3', (tree) => writeFileSync(join(tree, 'apps', 'runtime', 'bin', 'caracal.js'), 'process.exit(3)\n')));
    await expect(stageRelease(home(), rel)).rejects.toThrow('the unpacked caracal 1.2.3 does not run with Node');
    expect(readdirSync(join(home(), 'versions'))).toEqual([]);
  });

  it('removes leftovers of a staging killed earlier', async () => {
    mkdirSync(join(home(), 'versions', '.staging-1.2.3-abcdef', TOP), { recursive: true });
    await stageRelease(home(), await release(packTree()));
    expect(readdirSync(join(home(), 'versions'))).toEqual(['1.2.3']);
  });
});
