// The evidence pack writer and its verifier, with fake checks: the layout, the signed manifest, REPORT.md and junit,
// a byte-identical archive for the same pack, every kind of tampering named (exit 1 material), refused archives,
// --previous, and nothing half-written left behind when the pack cannot be written.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeTarGz, type WriteEntry } from '../../src/archive/tar-write.js';
import type { CheckDefinition, EvidenceContext } from '../../src/evidence/check.js';
import { evidenceKeyFromScalar, generateEvidenceScalar } from '../../src/evidence/key.js';
import { parseManifest, type PackMeta } from '../../src/evidence/manifest.js';
import { PackUnreadable, type PackLimits } from '../../src/evidence/pack-files.js';
import { archivePack, writePack } from '../../src/evidence/pack-writer.js';
import { readPrevious } from '../../src/evidence/previous.js';
import { exitOf, runChecks } from '../../src/evidence/run.js';
import { verifyPack } from '../../src/evidence/verify.js';

const KEY = evidenceKeyFromScalar(generateEvidenceScalar());
const OTHER = evidenceKeyFromScalar(generateEvidenceScalar());
const HEADS = { zones: { z1: { seq: 7, content_sha256: 'a'.repeat(64), head_sig: null } }, admin: { seq: 2, content_sha256: 'b'.repeat(64) } };

const check = (id: string, pillar: CheckDefinition['pillar'], run: CheckDefinition['run'], controls = ['R7', 'SOC2-CC6.1']): CheckDefinition => ({
  id,
  pillar,
  title: `title of ${id}`,
  what: `what ${id} checks`,
  controls,
  command: `SELECT 1 -- ${id}`,
  run,
});

const CHECKS: CheckDefinition[] = [
  check('schema-rls', 'Schema', async () => ({ status: 'PASS', reason: 'every table | forced', raw: [{ name: 'rls.json', command: 'SELECT relname FROM pg_class', output: [{ t: 'zones' }] }] })),
  check('runtime-readiness', 'Runtime', async () => ({ status: 'FAIL', reason: 'api: <connection refused> & "down"', raw: [{ name: 'ready.json', command: 'GET /ready', output: 'refused' }] })),
  check('audit-chains', 'Audit', async () => ({ status: 'PASS', reason: '1 zone verified', raw: [], heads: HEADS }), ['R6', 'EU-AIA-12', 'X-UNKNOWN']),
  check('audit-continuity', 'Audit', async (ctx) => ({ status: 'SKIPPED', reason: ctx.previous ? `extends ${ctx.previous.generatedAt}` : 'no --previous pack given', raw: [] })),
  check('config-thrower', 'Configuration', async () => {
    throw new Error('boom');
  }),
];

const META: PackMeta = { generated_at: '2026-01-02T03:04:05Z', version: '0.1.0', git_sha: 'c'.repeat(40), host: 'h', operator: { user: 'op', uid: 1000 }, key_fingerprint: KEY.fingerprint };

describe('evidence pack', () => {
  let tmp: string;
  let root: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'caracal-evpack-'));
    root = join(tmp, 'root');
    mkdirSync(join(root, 'governance'), { recursive: true });
    writeFileSync(join(root, 'governance', 'THREAT_MODEL.md'), '# Threat model\n');
  });
  afterEach(() => {
    chmodSync(tmp, 0o755);
    rmSync(tmp, { recursive: true, force: true });
  });

  const ctx = (previous: EvidenceContext['previous'] = null) =>
    ({ now: () => new Date('2026-01-02T03:04:05Z'), previous, db: { ok: false, reason: 'down' }, redis: { ok: false, reason: 'down' } }) as unknown as EvidenceContext;

  async function build(name = 'pack', previous: EvidenceContext['previous'] = null, meta = META) {
    const run = await runChecks(CHECKS, ctx(previous));
    const dir = join(tmp, name);
    await writePack({ dir, meta, results: run.results, heads: run.heads, previous: previous && { path: previous.path, generated_at: previous.generatedAt }, key: KEY, threatModelFile: join(root, 'governance', 'THREAT_MODEL.md') });
    return { dir, archive: `${dir}.tar.gz`, run };
  }

  it('runs every check, turns a throw into FAIL, keeps the heads, and exits 1 when a check FAILs', async () => {
    const run = await runChecks(CHECKS, ctx());
    expect(run.results.map((r) => [r.id, r.status])).toEqual([
      ['schema-rls', 'PASS'],
      ['runtime-readiness', 'FAIL'],
      ['audit-chains', 'PASS'],
      ['audit-continuity', 'SKIPPED'],
      ['config-thrower', 'FAIL'],
    ]);
    expect(run.results[4]!.reason).toBe('the check could not complete: boom');
    expect(run.heads).toEqual(HEADS);
    expect(exitOf(run.results)).toBe(1);
    expect(exitOf(run.results.filter((r) => r.status !== 'FAIL'))).toBe(0);
    const bad = await runChecks([check('bad-raw', 'Keys', async () => ({ status: 'PASS', reason: 'ok', raw: [{ name: '../x', command: 'c', output: 1 }] }))], ctx());
    expect(bad.results[0]).toMatchObject({ status: 'FAIL', reason: 'the check returned unusable evidence: raw output name "../x" is not a valid file name' });
    await expect(runChecks([CHECKS[0]!, CHECKS[0]!], ctx())).rejects.toThrow('invalid or repeated');
  });

  it('writes the layout, a manifest listing every other file with its digest, a valid signature, REPORT.md and junit', async () => {
    const { dir, archive } = await build();
    const files = execFileSync('find', ['.', '-type', 'f'], { cwd: dir, encoding: 'utf8' }).trim().split('\n').map((f) => f.slice(2)).sort();
    expect(files).toEqual(['REPORT.md', 'THREAT_MODEL.md', 'evidence-key.pub.pem', 'manifest.json', 'manifest.sig.json', 'raw/checks.junit.xml', 'raw/runtime-readiness/ready.json', 'raw/schema-rls/rls.json']);
    const manifest = parseManifest(readFileSync(join(dir, 'manifest.json')));
    expect(manifest.files.map((f) => f.path)).toEqual(files.filter((f) => !f.startsWith('manifest')));
    expect(manifest).toMatchObject({ schema: 'caracal.evidence/v1', key_fingerprint: KEY.fingerprint, chain_heads: HEADS, previous: null, git_sha: 'c'.repeat(40) });
    expect(manifest.checks[0]).toMatchObject({ id: 'schema-rls', status: 'PASS', command: 'SELECT 1 -- schema-rls', raw: ['raw/schema-rls/rls.json'], controls: ['R7', 'SOC2-CC6.1'] });
    expect(readFileSync(join(dir, 'raw/schema-rls/rls.json'), 'utf8')).toBe(`${JSON.stringify({ check: 'schema-rls', command: 'SELECT relname FROM pg_class', output: [{ t: 'zones' }] }, null, 2)}\n`);
    expect(readFileSync(join(dir, 'evidence-key.pub.pem'), 'utf8')).toBe(KEY.publicPem);
    const report = readFileSync(join(dir, 'REPORT.md'), 'utf8');
    expect(report).toContain('| Runtime | runtime-readiness | FAIL | [raw/runtime-readiness/](raw/runtime-readiness/) |');
    expect(report).toContain('| Audit | audit-continuity | SKIPPED | none |');
    expect(report).toContain('- Reason: every table | forced');
    expect(report).toContain(`| Run by | op (uid 1000) |`);
    expect(report).toContain(`| Evidence key fingerprint | ${KEY.fingerprint}`);
    expect(report).toMatch(/\| SOC2-CC6 \| SOC 2 Trust Services Criteria: Logical and physical access controls \| schema-rls, runtime-readiness, audit-continuity, config-thrower \|/);
    expect(report).toContain('| R1 | Caracal agentic authority controls: Agents hold no upstream credential | no check in this pack |');
    expect(report).toContain('| X-UNKNOWN | not in the catalogue: X-UNKNOWN | audit-chains |');
    expect(report).toContain('## Non-claims');
    expect(report).toContain('No certification');
    const junit = readFileSync(join(dir, 'raw/checks.junit.xml'), 'utf8');
    expect(junit).toContain('tests="5" failures="2" errors="0" skipped="1"');
    expect(junit).toContain('<failure message="api: &lt;connection refused&gt; &amp; &quot;down&quot;"/>');
    expect(junit).toContain('<skipped message="no --previous pack given"/>');
    for (const target of [dir, archive]) {
      const { report: r } = await verifyPack(target, { key: KEY.publicKey });
      expect(r, target).toMatchObject({ ok: true, findings: [], key: { fingerprint: KEY.fingerprint, source: '--key' } });
    }
    expect((await verifyPack(dir)).report).toMatchObject({ ok: true, key: { source: 'pack' } });
  });

  it('archives the same pack to the same bytes, whatever the files\' mtimes, and the archive holds the pack', async () => {
    const { dir, archive } = await build();
    const copy = join(tmp, 'again', 'pack');
    cpSync(dir, copy, { recursive: true });
    utimesSync(join(copy, 'REPORT.md'), new Date(0), new Date(0));
    await archivePack(copy, join(tmp, 'again.tar.gz'), META.generated_at);
    expect(readFileSync(join(tmp, 'again.tar.gz')).equals(readFileSync(archive))).toBe(true);
    const listing = execFileSync('tar', ['-tzvf', archive], { encoding: 'utf8' });
    expect(listing).toContain('0/0');
    expect(listing).toContain('2026-01-02 03:04');
    expect(listing.split('\n')[0]).toMatch(/^drwxr-xr-x .* pack\/$/);
  });

  const findings = async (target: string, key = KEY.publicKey) => (await verifyPack(target, { key })).report.findings.map((f) => `${f.kind} ${f.path}`);

  it('names a flipped byte in raw/, an edited status in REPORT.md, a rename, an added and a removed file', async () => {
    const { dir } = await build();
    const raw = join(dir, 'raw/schema-rls/rls.json');
    const bytes = readFileSync(raw);
    bytes[10] = bytes[10]! ^ 1;
    writeFileSync(raw, bytes);
    writeFileSync(join(dir, 'REPORT.md'), readFileSync(join(dir, 'REPORT.md'), 'utf8').replace('| runtime-readiness | FAIL |', '| runtime-readiness | PASS |'));
    renameSync(join(dir, 'raw/runtime-readiness/ready.json'), join(dir, 'raw/runtime-readiness/ready-renamed.json'));
    writeFileSync(join(dir, 'raw/extra.txt'), 'added');
    unlinkSync(join(dir, 'THREAT_MODEL.md'));
    expect(await findings(dir)).toEqual(['altered REPORT.md', 'removed THREAT_MODEL.md', 'added raw/extra.txt', 'renamed raw/runtime-readiness/ready.json', 'altered raw/schema-rls/rls.json']);
    const { report } = await verifyPack(dir, { key: KEY.publicKey });
    expect(report.ok).toBe(false);
    expect(report.findings.find((f) => f.kind === 'renamed')!.detail).toContain('renamed to raw/runtime-readiness/ready-renamed.json');
  });

  it('names a replaced signature, a re-signed manifest and a wrong --key', async () => {
    const { dir } = await build();
    expect(await findings(dir, OTHER.publicKey)).toEqual(['signature manifest.sig.json', 'signature manifest.json']);
    const other = await build('other', null, { ...META, key_fingerprint: OTHER.fingerprint });
    cpSync(join(other.dir, 'manifest.sig.json'), join(dir, 'manifest.sig.json'));
    const r = (await verifyPack(dir, { key: KEY.publicKey })).report;
    expect(r.findings).toEqual([{ kind: 'signature', path: 'manifest.sig.json', detail: 'bad or replaced signature: its payload is not the manifest.json of this pack' }]);
    // A manifest edited to hide a change and signed by another key: caught against the installation's key.
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    m.checks[1].status = 'PASS';
    writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
    const { signManifest } = await import('../../src/evidence/sign.js');
    writeFileSync(join(dir, 'manifest.sig.json'), signManifest(readFileSync(join(dir, 'manifest.json')), OTHER.privateKey, OTHER.fingerprint));
    expect((await verifyPack(dir, { key: KEY.publicKey })).report.findings[0]!.detail).toContain(`no valid signature by key ${KEY.fingerprint}`);
    writeFileSync(join(dir, 'manifest.sig.json'), '{"not":"dsse"}');
    expect((await verifyPack(dir, { key: KEY.publicKey })).report.findings[0]!.detail).toContain('not a DSSE envelope');
    unlinkSync(join(dir, 'manifest.sig.json'));
    expect((await verifyPack(dir, { key: KEY.publicKey })).report.findings[0]).toMatchObject({ kind: 'signature', detail: 'the signature over the manifest was removed' });
  });

  it('names the same tampering inside an archive', async () => {
    const { dir } = await build();
    writeFileSync(join(dir, 'raw/extra.txt'), 'added');
    await archivePack(dir, join(tmp, 'tampered.tar.gz'), META.generated_at);
    expect(await findings(join(tmp, 'tampered.tar.gz'))).toEqual(['added raw/extra.txt']);
  });

  const tarOf = async (name: string, entries: WriteEntry[]) => {
    const file = join(tmp, name);
    await writeTarGz(file, entries, 0);
    return file;
  };

  it('refuses archives with traversal, links, two top directories or oversize entries, and inputs that are no pack', async () => {
    const f = join(tmp, 'f.txt');
    writeFileSync(f, 'x');
    const refused = async (file: string, pattern: string, limits?: PackLimits) => {
      const e = await verifyPack(file, limits ? { limits } : {}).then(() => undefined, (err: unknown) => err);
      expect(e, file).toBeInstanceOf(PackUnreadable);
      expect((e as Error).message).toContain(pattern);
    };
    await refused(await tarOf('trav.tar.gz', [{ path: 'p/', abs: tmp, kind: 'dir' }, { path: 'p/../../etc/x', abs: f, kind: 'file' }]), 'an empty, "." or ".." path segment');
    await refused(await tarOf('abs.tar.gz', [{ path: '/etc/x', abs: f, kind: 'file' }]), 'refused entry');
    await refused(await tarOf('two.tar.gz', [{ path: 'p/a', abs: f, kind: 'file' }, { path: 'q/b', abs: f, kind: 'file' }]), 'outside p/');
    await refused(await tarOf('link.tar.gz', [{ path: 'p/', abs: tmp, kind: 'dir' }, { path: 'p/l', abs: f, kind: 'symlink', link: 'manifest.json' }]), 'a symbolic link');
    const { archive, dir } = await build();
    await refused(archive, 'larger than any evidence pack', { entryBytes: 100, totalBytes: 1 << 20, entries: 1000 });
    await refused(archive, 'larger than any evidence pack', { entryBytes: 1 << 20, totalBytes: 1 << 20, entries: 3 });
    writeFileSync(join(tmp, 'plain.txt'), 'not a pack');
    await refused(join(tmp, 'plain.txt'), 'neither an evidence pack directory nor a tar.gz');
    await refused(join(tmp, 'missing'), 'cannot be read: ENOENT');
    await refused(root, 'is not an evidence pack');
    writeFileSync(join(tmp, 'trunc.tar.gz'), readFileSync(archive).subarray(0, 100));
    await refused(join(tmp, 'trunc.tar.gz'), 'not a readable gzip stream');
    execFileSync('ln', ['-s', '/etc/passwd', join(dir, 'raw/link')]);
    await refused(dir, 'raw/link is a symbolic link');
  });

  it('--previous: verified against the installation key, heads from the signed manifest, refused when tampered or not a pack', async () => {
    const first = await build('first');
    for (const target of [first.dir, first.archive]) {
      expect(await readPrevious(target, KEY.publicKey)).toEqual({ path: target, generatedAt: META.generated_at, heads: HEADS });
    }
    const second = await build('second', { path: first.dir, generatedAt: META.generated_at, heads: HEADS });
    const m = parseManifest(readFileSync(join(second.dir, 'manifest.json')));
    expect(m.previous).toEqual({ path: first.dir, generated_at: META.generated_at });
    expect(m.checks.find((c) => c.id === 'audit-continuity')!.reason).toBe(`extends ${META.generated_at}`);
    await expect(readPrevious(first.dir, OTHER.publicKey)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('fails its own verification') });
    await expect(readPrevious(root, KEY.publicKey)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('is not an evidence pack') });
    writeFileSync(join(first.dir, 'raw/schema-rls/rls.json'), '{}\n');
    await expect(readPrevious(first.dir, KEY.publicKey)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('altered raw/schema-rls/rls.json') });
    const noHeads = join(tmp, 'noheads');
    await writePack({ dir: noHeads, meta: META, results: [], heads: null, previous: null, key: KEY, threatModelFile: join(root, 'none') });
    await expect(readPrevious(noHeads, KEY.publicKey)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('records no audit chain heads') });
  });

  it('builds without THREAT_MODEL.md when the threat model is missing or is not a readable file (its check FAILs instead)', async () => {
    const asDir = join(tmp, 'tm-dir');
    mkdirSync(asDir);
    const built = await writePack({ dir: join(tmp, 'tm-pack'), meta: META, results: [], heads: null, previous: null, key: KEY, threatModelFile: asDir });
    expect(readdirSync(built.dir)).not.toContain('THREAT_MODEL.md');
    expect(readdirSync(built.dir)).toContain('REPORT.md');
  });

  it('refuses an existing --out or archive and an unwritable parent, leaving nothing behind', async () => {
    const input = (dir: string) => ({ dir, meta: META, results: [], heads: null, previous: null, key: KEY, threatModelFile: join(root, 'none') });
    mkdirSync(join(tmp, 'exists'));
    await expect(writePack(input(join(tmp, 'exists')))).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('already exists') });
    writeFileSync(join(tmp, 'arch.tar.gz'), '');
    await expect(writePack(input(join(tmp, 'arch')))).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('arch.tar.gz already exists') });
    const before = readdirSync(tmp).sort();
    const locked = join(tmp, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    if (process.getuid?.() !== 0) await expect(writePack(input(join(locked, 'p')))).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('cannot write the evidence pack') });
    await expect(writePack(input(join(tmp, 'no', 'such', 'p')))).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('ENOENT') });
    await expect(writePack(input(join(tmp, 'arch.tar.gz', 'p')))).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('ENOTDIR') });
    expect(readdirSync(locked)).toEqual([]);
    expect(readdirSync(tmp).sort()).toEqual([...before, 'locked'].sort());
  });
});
