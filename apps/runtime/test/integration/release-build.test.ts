// `pnpm release` (R-REL-1): two builds of one commit give byte-identical archives and SBOMs; the archive is
// normalised (uid/gid 0, commit-time mtimes, sorted entries) and runs on its own; the key is checked against the pin.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../../../test-support/cli.js';
import { buildRelease, listDir, releaseCli, tempDir, throwawayKey, type KeyPair } from './release-fixture.js';

/** name@version of every package directory under the tree's node_modules (workspace links not followed). */
function installedPackages(root: string): string[] {
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name === 'test') continue;
      const path = join(dir, e.name);
      if (e.name !== 'node_modules') walk(path);
      else for (const pkg of readdirSync(path, { withFileTypes: true })) {
        if (!pkg.isDirectory() || pkg.name.startsWith('.')) continue;
        const dirs = pkg.name.startsWith('@') ? readdirSync(join(path, pkg.name), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(path, pkg.name, d.name)) : [join(path, pkg.name)];
        for (const d of dirs) {
          const manifest = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
          found.add(`${manifest.name}@${manifest.version}`);
          walk(d);
        }
      }
    }
  };
  walk(root);
  return [...found].sort();
}

const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const VERSION = JSON.parse(readFileSync(join(REPO, 'apps', 'runtime', 'package.json'), 'utf8')).version as string;

describe('pnpm release', () => {
  const tmp = tempDir('release-build');
  let key: KeyPair;
  let first: string;
  let second: string;
  beforeAll(async () => {
    key = await throwawayKey(tmp.dir, 'key');
    first = await buildRelease(join(tmp.dir, 'a'), key);
    second = await buildRelease(join(tmp.dir, 'b'), key);
  });
  afterAll(() => tmp.remove());

  it('writes every artefact into dist/release/<version>/', () => {
    expect(first).toBe(join(tmp.dir, 'a', VERSION));
    expect(listDir(first)).toEqual(
      ['SHA256SUMS', 'SHA256SUMS.sig', 'SHA256SUMS.sigstore.json', `caracal-${VERSION}.cdx.json`, `caracal-${VERSION}.intoto.jsonl`, `caracal-${VERSION}.tar.gz`, 'manifest.json'].sort(),
    );
  });

  it('is reproducible: two builds give byte-identical archives and SBOMs', () => {
    for (const f of [`caracal-${VERSION}.tar.gz`, `caracal-${VERSION}.cdx.json`]) expect(digest(join(second, f))).toBe(digest(join(first, f)));
  });

  it('normalises the archive: sorted entries, uid/gid 0, the commit time as every mtime', () => {
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvzf', join(first, `caracal-${VERSION}.tar.gz`)], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, TZ: 'UTC' } }).trim().split('\n');
    const commit = new Date(Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: REPO, encoding: 'utf8' })) * 1000);
    const names = listing.map((l) => l.split(/\s+/)[5]!);
    expect(names).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const line of listing) {
      const [, owner, , date, time] = line.split(/\s+/);
      expect(owner).toBe('0/0');
      expect(new Date(`${date}T${time}Z`).getTime()).toBe(commit.getTime());
    }
    expect(names).toContain(`caracal-${VERSION}/apps/runtime/dist/main.js`);
    expect(names).toContain(`caracal-${VERSION}/infra/postgres/migrations/`);
    expect(names.some((n) => n.includes('/.bin/') || n.endsWith('.tsbuildinfo'))).toBe(false);
  });

  it('the unpacked archive runs the CLI with nothing else installed', () => {
    const dest = join(tmp.dir, 'unpacked');
    execFileSync('mkdir', ['-p', dest]);
    execFileSync('tar', ['-xzf', join(first, `caracal-${VERSION}.tar.gz`), '-C', dest]);
    const out = execFileSync(process.execPath, [join(dest, `caracal-${VERSION}`, 'apps', 'runtime', 'bin', 'caracal.js'), '--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(VERSION);
  });

  it('the SBOM lists exactly the packages in the archive, each with purl, version and lockfile integrity', () => {
    const bom = JSON.parse(readFileSync(join(first, `caracal-${VERSION}.cdx.json`), 'utf8'));
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5' });
    for (const c of bom.components) {
      expect(c.purl).toBe(`pkg:npm/${c.name.replace('@', '%40')}@${c.version}`);
      expect(c.properties[0].value).toMatch(/^sha512-/);
      expect(c.hashes[0]).toEqual({ alg: 'SHA-512', content: Buffer.from(c.properties[0].value.slice(7), 'base64').toString('hex') });
    }
    const inSbom = bom.components.map((c: any) => `${c.name}@${c.version}`).sort();
    expect(inSbom).toEqual(installedPackages(join(tmp.dir, 'unpacked', `caracal-${VERSION}`)));
  });

  it('ships a detached DER signature that openssl verifies with the public key alone', () => {
    const out = execFileSync('openssl', ['dgst', '-sha256', '-verify', key.publicFile, '-signature', join(first, 'SHA256SUMS.sig'), join(first, 'SHA256SUMS')], { encoding: 'utf8' });
    expect(out.trim()).toBe('Verified OK');
  });

  it('keygen writes the private key 0400 and refuses to overwrite it', async () => {
    expect(statSync(key.privateFile).mode & 0o777).toBe(0o400);
    const again = await releaseCli(['keygen', '--out', join(tmp.dir, 'key')]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('EEXIST');
    expect(again.stdout + again.stderr).not.toContain('PRIVATE KEY');
  });

  it('refuses a key whose public half is not the pinned one, and a key that is not P-256', async () => {
    const pinned = await releaseCli(['--key', key.privateFile, '--out', join(tmp.dir, 'c')]);
    expect(pinned.exitCode).toBe(1);
    expect(pinned.stderr).toContain(`the public half of ${key.privateFile} does not match ${join(REPO, 'installers', 'caracal-release.pub')}`);
    const notKey = await releaseCli(['--key', join(first, 'manifest.json'), '--key-pub', key.publicFile, '--out', join(tmp.dir, 'c')]);
    expect(notKey.exitCode).toBe(1);
    expect(notKey.stderr).toContain(`cannot use private key ${join(first, 'manifest.json')}`);
  });

  it('a usage error exits 2 with the usage text', async () => {
    const r = await releaseCli(['--nope']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('usage: pnpm release');
  });
});
