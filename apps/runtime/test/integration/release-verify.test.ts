// `caracal verify-release` (R-REL-2): an untouched release passes, offline; every tampered artefact makes it exit 1
// naming the check and the file; bad input gets a clear message and exit 1 or 2.
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caracal, CLI, REPO } from '../../../../test-support/cli.js';
import { buildRelease, copyRelease, resign, tempDir, throwawayKey, type KeyPair } from './release-fixture.js';
import { loadPublicKey } from '../../src/release/keys.js';

describe('caracal verify-release', () => {
  const tmp = tempDir('release-verify');
  let key: KeyPair;
  let other: KeyPair;
  let release: string;
  let version: string;
  const archive = () => `caracal-${version}.tar.gz`;
  const sbom = () => `caracal-${version}.cdx.json`;
  const provenance = () => `caracal-${version}.intoto.jsonl`;
  let n = 0;
  const copy = () => copyRelease(release, tmp.dir, `case-${++n}`);
  const verify = async (dir: string, keyFile = key.publicFile) => {
    const r = await caracal(['verify-release', dir, '--key', keyFile, '--json'], {});
    return { ...r, report: r.stdout ? JSON.parse(r.stdout) : undefined };
  };
  /** Exit 1, and the first failure is `check` on `file`; later checks are SKIPPED. */
  const expectFailure = async (dir: string, check: string, file: string, detail?: string, keyFile?: string) => {
    const r = await verify(dir, keyFile);
    expect(r.exitCode).toBe(1);
    expect(r.report.ok).toBe(false);
    expect({ check: r.report.firstFailure.check, file: r.report.firstFailure.file }).toEqual({ check, file });
    if (detail) expect(r.report.firstFailure.detail).toContain(detail);
    const at = r.report.checks.findIndex((c: any) => c.status === 'FAIL');
    expect(r.report.checks.slice(at + 1).every((c: any) => c.status === 'SKIPPED')).toBe(true);
  };

  beforeAll(async () => {
    key = await throwawayKey(tmp.dir, 'key');
    other = await throwawayKey(tmp.dir, 'other');
    release = await buildRelease(join(tmp.dir, 'built'), key);
    version = release.split('/').pop()!;
  });
  afterAll(() => tmp.remove());

  it('an untouched release passes every check in order, in text and JSON', async () => {
    const text = await caracal(['verify-release', release, '--key', key.publicFile], {});
    expect(text.exitCode).toBe(0);
    const checks = ['sums-grammar', 'digests', 'sums-signature', 'provenance-signature', 'provenance-subjects', 'sbom', 'manifest'];
    expect(text.stdout.trim().split('\n').slice(0, -1).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(checks.map((c) => `PASS ${c}`));
    expect(text.stdout).toContain(`release ${version} verified`);
    const json = await verify(release);
    expect(json.report).toMatchObject({ ok: true, version });
    // The archive's own path names the release it sits in.
    expect((await verify(join(release, archive()))).exitCode).toBe(0);
  });

  it('passes with no network at all (a network namespace without interfaces)', () => {
    const out = execFileSync('unshare', ['-n', process.execPath, CLI, 'verify-release', release, '--key', key.publicFile], { encoding: 'utf8', env: { PATH: process.env.PATH, NO_COLOR: '1' } });
    expect(out).toContain(`release ${version} verified`);
  });

  it('the bundle verifies with @sigstore/verify used directly, and not over other bytes', () => {
    const bundle = bundleFromJSON(JSON.parse(readFileSync(join(release, 'SHA256SUMS.sigstore.json'), 'utf8')));
    const pub = loadPublicKey(key.publicFile);
    const trust = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: () => ({ publicKey: pub, validFor: () => true }) };
    const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    const sums = readFileSync(join(release, 'SHA256SUMS'));
    expect(() => verifier.verify(toSignedEntity(bundle, sums))).not.toThrow();
    expect(() => verifier.verify(toSignedEntity(bundle, Buffer.concat([sums, Buffer.from('\n')])))).toThrow();
  });

  it('the bundle verifies with cosign verify-blob, offline, and cosign refuses it over other bytes', () => {
    // cosign is built by scripts/setup-tools.sh (npm test runs it first); a missing binary fails this test.
    const cosign = join(REPO, '.tools', 'go-bin', 'cosign');
    // A key-based bundle has no log entry, CA or timestamp: an empty trusted root and no tlog check leave the key alone.
    const root = join(tmp.dir, 'empty-trusted-root.json');
    writeFileSync(root, '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}\n');
    const run = (dir: string) =>
      spawnSync('unshare', ['-n', cosign, 'verify-blob', '--key', key.publicFile, '--bundle', join(dir, 'SHA256SUMS.sigstore.json'), '--new-bundle-format', '--insecure-ignore-tlog=true', '--trusted-root', root, join(dir, 'SHA256SUMS')], { encoding: 'utf8' });
    const good = run(release);
    expect(good.error).toBeUndefined();
    expect(good.status, good.stderr).toBe(0);
    expect(good.stderr).toContain('Verified OK');
    const dir = copy();
    appendFileSync(join(dir, 'SHA256SUMS'), '\n');
    const bad = run(dir);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).not.toContain('Verified OK');
  });

  it('a flipped byte in the archive fails the digest check naming the archive', async () => {
    const dir = copy();
    const buf = readFileSync(join(dir, archive()));
    buf[buf.length >> 1]! ^= 0x01;
    writeFileSync(join(dir, archive()), buf);
    await expectFailure(dir, 'digests', archive(), 'does not match its digest');
  });

  it('an edited SHA256SUMS line fails: a changed digest names its file, a broken line names SHA256SUMS', async () => {
    const dir = copy();
    const sums = readFileSync(join(dir, 'SHA256SUMS'), 'utf8');
    const line = sums.split('\n').find((l) => l.endsWith(sbom()))!;
    writeFileSync(join(dir, 'SHA256SUMS'), sums.replace(line, `${line[0] === 'a' ? 'b' : 'a'}${line.slice(1)}`));
    await expectFailure(dir, 'digests', sbom(), 'SHA256SUMS');
    const broken = copy();
    writeFileSync(join(broken, 'SHA256SUMS'), sums.replace(line, line.replace('  ', ' ')));
    await expectFailure(broken, 'sums-grammar', 'SHA256SUMS', 'line');
  });

  it('a "../x" line, a duplicate name and an unlisted file fail the grammar check', async () => {
    const dir = copy();
    appendFileSync(join(dir, 'SHA256SUMS'), `${'0'.repeat(64)}  ../x\n`);
    await expectFailure(dir, 'sums-grammar', 'SHA256SUMS', 'path separator');
    const dots = copy();
    appendFileSync(join(dots, 'SHA256SUMS'), `${'0'.repeat(64)}  ..x\n`);
    await expectFailure(dots, 'sums-grammar', 'SHA256SUMS', '".."');
    const dup = copy();
    const first = readFileSync(join(dup, 'SHA256SUMS'), 'utf8').split('\n')[0]!;
    appendFileSync(join(dup, 'SHA256SUMS'), `${first}\n`);
    await expectFailure(dup, 'sums-grammar', 'SHA256SUMS', 'twice');
    const extra = copy();
    writeFileSync(join(extra, 'evil.sh'), 'echo hi\n');
    await expectFailure(extra, 'sums-grammar', 'evil.sh', 'not listed');
  });

  it("an altered bundle signature, or a bundle signed by another key, fails the bundle check", async () => {
    const dir = copy();
    const bundle = JSON.parse(readFileSync(join(dir, 'SHA256SUMS.sigstore.json'), 'utf8'));
    const sig = Buffer.from(bundle.messageSignature.signature, 'base64');
    sig[sig.length - 2]! ^= 0x01;
    bundle.messageSignature.signature = sig.toString('base64');
    writeFileSync(join(dir, 'SHA256SUMS.sigstore.json'), JSON.stringify(bundle));
    await expectFailure(dir, 'sums-signature', 'SHA256SUMS.sigstore.json', 'does not verify');
    const resigned = copy();
    await resign(resigned, other);
    await expectFailure(resigned, 'sums-signature', 'SHA256SUMS.sigstore.json', 'trusted key');
    // Trusting the other key moves the failure on: the provenance is still signed by the release key.
    await expectFailure(resigned, 'provenance-signature', provenance(), undefined, other.publicFile);
  });

  it('a changed provenance subject digest fails: unsigned at the DSSE check, re-signed at the subject check', async () => {
    const dir = copy();
    await resign(dir, key, (st) => (st.subject[0].digest.sha256 = 'f'.repeat(64)));
    await expectFailure(dir, 'provenance-subjects', provenance(), 'subjects are not exactly');
    const unsigned = copy();
    const env = JSON.parse(readFileSync(join(unsigned, provenance()), 'utf8'));
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
    st.subject[0].digest.sha256 = 'f'.repeat(64);
    env.payload = Buffer.from(JSON.stringify(st)).toString('base64');
    writeFileSync(join(unsigned, provenance()), JSON.stringify(env));
    await resign(unsigned, key);
    await expectFailure(unsigned, 'provenance-signature', provenance(), 'no signature by the trusted key');
  });

  it('a changed buildType fails the subject check', async () => {
    const dir = copy();
    await resign(dir, key, (st) => (st.predicate.buildDefinition.buildType = 'https://example.com/other'));
    await expectFailure(dir, 'provenance-subjects', provenance(), 'buildType "https://example.com/other"');
  });

  it('a removed SBOM fails: still listed at the digest check, unlisted and re-signed at the SBOM check', async () => {
    const dir = copy();
    rmSync(join(dir, sbom()));
    await expectFailure(dir, 'digests', sbom(), 'missing');
    const resigned = copy();
    rmSync(join(resigned, sbom()));
    await resign(resigned, key);
    await expectFailure(resigned, 'sbom', sbom(), 'not listed');
  });

  it("a changed manifest sha fails: at the digest check, and re-signed at the manifest check", async () => {
    const dir = copy();
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    m.gitSha = '0'.repeat(40);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    await expectFailure(dir, 'digests', 'manifest.json', 'does not match');
    await resign(dir, key);
    await expectFailure(dir, 'manifest', 'manifest.json', 'git sha "0000000000000000000000000000000000000000" disagrees');
  });

  describe('bad input', () => {
    it('a missing directory cannot be verified: exit 2 naming it', async () => {
      const r = await caracal(['verify-release', join(tmp.dir, 'nowhere'), '--key', key.publicFile], {});
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`error: ${join(tmp.dir, 'nowhere')} does not exist`);
    });

    it('--installed from a checkout, or no release at all, cannot run: exit 2', async () => {
      const r = await caracal(['verify-release', '--installed'], {});
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('is not an installed release: it has no INSTALL-RECEIPT');
      const none = await caracal(['verify-release'], {});
      expect(none.exitCode).toBe(2);
      expect(none.stderr).toContain('name a release directory or archive, or pass --installed');
    });

    it('a directory that is not a release fails the grammar check: SHA256SUMS is missing', async () => {
      const dir = join(tmp.dir, 'not-a-release');
      execFileSync('mkdir', ['-p', dir]);
      await expectFailure(dir, 'sums-grammar', 'SHA256SUMS', 'SHA256SUMS is missing');
    });

    it('an archive that is not gzip: exit 2 naming it', async () => {
      const file = join(tmp.dir, 'fake.tar.gz');
      writeFileSync(file, 'not gzip');
      const r = await caracal(['verify-release', file, '--key', key.publicFile], {});
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`error: ${file} is neither a release directory nor a gzip archive`);
    });

    it('a key file that is not a P-256 public key: exit 2 naming the file and the flag', async () => {
      const rsa = join(tmp.dir, 'rsa.pub');
      execFileSync('sh', ['-c', `openssl genrsa 2048 2>/dev/null | openssl rsa -pubout -out ${rsa} 2>/dev/null`]);
      const r = await caracal(['verify-release', release, '--key', rsa], {});
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`error: ${rsa} is not an ECDSA P-256 public key`);
      expect(r.stderr).toContain('hint: --key names the release public key');
      const junk = await caracal(['verify-release', release, '--key', join(release, 'manifest.json')], {});
      expect(junk.exitCode).toBe(2);
      expect(junk.stderr).toContain(`${join(release, 'manifest.json')} is not a PEM public key`);
    });

    it('a bundle that is not JSON fails the bundle check', async () => {
      const dir = copy();
      writeFileSync(join(dir, 'SHA256SUMS.sigstore.json'), '{not json');
      await expectFailure(dir, 'sums-signature', 'SHA256SUMS.sigstore.json', 'is not JSON');
    });

    it('a SHA256SUMS of 50 MB is refused unread', async () => {
      const dir = copy();
      writeFileSync(join(dir, 'SHA256SUMS'), Buffer.alloc(50 * 1024 * 1024, 0x61));
      await expectFailure(dir, 'sums-grammar', 'SHA256SUMS', 'more than the 65536 bytes');
    });

    it('a listed artefact that is a symlink is not followed', async () => {
      const dir = copy();
      rmSync(join(dir, sbom()));
      symlinkSync('/etc/hostname', join(dir, sbom()));
      await expectFailure(dir, 'digests', sbom(), 'not a regular file');
    });
  });
});
