// `caracal upgrade` refuses bad input before it changes anything: another platform, a missing service, a corrupt
// runtime.json, a held lock, an unwritable or full versions/, migrations that disagree with the database, an
// unverified or corrupt release, a downgrade; the same version is a no-op and --dry-run only plans. Each refusal
// exits 1 naming the file or version, and the running stack (processes, runtime.json, schema) is untouched. A
// failing expand migration is rolled back in its transaction while the old version keeps serving.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchFile } from '../../../../bench/lib/derive-release.mjs';
import { REPO } from '../../../../test-support/cli.js';
import { copyRelease, resign, tempDir } from './release-fixture.js';
import { A_MIGRATIONS, buildReleases, LABEL_MIGRATION, ManagedStack, NEXT_MIGRATION, readsLabel, type Releases } from './upgrade-fixture.js';

describe('caracal upgrade refuses bad input and changes nothing', () => {
  const tmp = tempDir('upgrade-refusals');
  let rel: Releases;
  let stack: ManagedStack;
  let b: string;
  const versions = () => join(stack.home, 'versions');
  const upgrade = (from: string, ...more: string[]) => stack.cli(['upgrade', '--from', from, '--key', rel.key.publicFile, '--yes', ...more]);
  const appliedCount = async () => JSON.parse((await stack.cli(['migrate', 'status', '--json'])).stdout).filter((r: { state: string }) => r.state === 'applied').length;

  /** Exit 1, the message, and the stack exactly as it was and still ready. */
  const expectRefused = async (run: () => Promise<{ exitCode: number; stderr: string }>, ...messages: string[]) => {
    const before = stack.snapshot();
    const applied = await appliedCount();
    const r = await run();
    expect(r.exitCode, r.stderr).toBe(1);
    for (const m of messages) expect(r.stderr).toContain(m);
    expect(stack.snapshot()).toEqual(before);
    expect(await appliedCount()).toBe(applied);
    expect((await stack.cli(['status', '--ready'])).exitCode).toBe(0);
    return r;
  };

  beforeAll(async () => {
    rel = await buildReleases(tmp.dir);
    b = await rel.derive('0.2.0', { migrations: [LABEL_MIGRATION], patch: readsLabel });
    stack = await ManagedStack.start(join(tmp.dir, 'stack'), rel.a, rel.aVersion);
  });
  afterAll(async () => {
    await stack?.stop();
    tmp.remove();
  });

  it('--dry-run prints versions, migrations by phase and the services in roll order, and changes nothing', async () => {
    const before = stack.snapshot();
    const r = await upgrade(b, '--dry-run', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, outcome: 'planned', from: rel.aVersion, to: '0.2.0' });
    expect(report.plan.migrations).toEqual({ applied: A_MIGRATIONS, expand: [LABEL_MIGRATION.file], contract: [] });
    expect(report.plan.services.map((s: { service: string }) => s.service)).toEqual(['audit', 'coordinator', 'api', 'sts', 'gateway']);
    expect(report.plan.stage).toEqual({ root: join(versions(), '0.2.0'), reuse: false });
    const text = await upgrade(b, '--dry-run');
    expect(text.stdout).toContain(`upgrade plan: caracal ${rel.aVersion} -> 0.2.0`);
    expect(text.stdout).toMatch(new RegExp(`expand +${LABEL_MIGRATION.file.replace(/\./g, '\\.')}`));
    expect(text.stdout).toContain('dry run: nothing was changed');
    expect(stack.snapshot()).toEqual(before);
    expect(existsSync(join(stack.home, 'upgrade.log'))).toBe(false);
    expect(await appliedCount()).toBe(A_MIGRATIONS);
  });

  it('a built release declares its platform in the signed manifest: the operating systems and the Node range', () => {
    const engines = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).engines.node;
    expect(JSON.parse(readFileSync(join(rel.a, 'manifest.json'), 'utf8')).platform).toEqual({ os: ['linux', 'darwin'], node: engines });
  });

  it('the same version is a no-op: "already at <v>", exit 0', async () => {
    const before = stack.snapshot();
    const r = await upgrade(rel.a);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`already at ${rel.aVersion}`);
    expect(stack.snapshot()).toEqual(before);
  });

  it('refuses a downgrade, naming both versions', async () => {
    const older = await rel.derive('0.0.9');
    await expectRefused(() => upgrade(older), `release 0.0.9 is older than the running ${rel.aVersion}`, 'downgrades are refused');
  });

  it('refuses a release signed by another key, and a corrupt archive, before any change', async () => {
    // Not signed by the pinned key (no --key).
    await expectRefused(() => stack.cli(['upgrade', '--from', b, '--yes']), `release ${b} is not verified: sums-signature failed on SHA256SUMS.sigstore.json`);
    // A flipped byte: the digest no longer matches SHA256SUMS.
    const flipped = copyRelease(b, tmp.dir, 'flipped');
    const archive = join(flipped, 'caracal-0.2.0.tar.gz');
    const bytes = readFileSync(archive);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    writeFileSync(archive, bytes);
    await expectRefused(() => upgrade(flipped), 'digests failed on caracal-0.2.0.tar.gz');
    // Truncated, then re-signed by the key holder: verification passes, reading the archive does not.
    const truncated = copyRelease(b, tmp.dir, 'truncated');
    truncateSync(join(truncated, 'caracal-0.2.0.tar.gz'), 100_000);
    await resign(truncated, rel.key, (st) => {
      st.subject[0].digest.sha256 = sha256File(join(truncated, 'caracal-0.2.0.tar.gz'));
    });
    rewriteManifestDigests(truncated);
    await resign(truncated, rel.key);
    await expectRefused(() => upgrade(truncated), 'caracal-0.2.0.tar.gz of release 0.2.0: not a readable gzip stream');
  });

  it('refuses a release for another platform or Node, and one that declares none', async () => {
    const windows = await rel.derive('0.2.1', { platform: { os: ['win32'], node: '>=20.19' } });
    await expectRefused(() => upgrade(windows), `release 0.2.1 is built for win32 (manifest.json of release 0.2.1), not for this host (${process.platform})`);
    const future = await rel.derive('0.2.2', { platform: { os: ['linux', 'darwin'], node: '>=99' } });
    await expectRefused(() => upgrade(future), `release 0.2.2 needs Node >=99 (manifest.json of release 0.2.2); this host runs Node ${process.versions.node}`);
    const none = await rel.derive('0.2.3', { platform: null });
    await expectRefused(() => upgrade(none), 'manifest.json of release 0.2.3 declares no platform');
  });

  it('refuses a release with a missing service, naming it', async () => {
    const partial = await rel.derive('0.2.4', { patch: (tree) => rmSync(join(tree, 'services', 'gateway'), { recursive: true }) });
    await expectRefused(() => upgrade(partial), 'release 0.2.4 is missing service gateway: caracal-0.2.4/services/gateway/dist/main.js is not in caracal-0.2.4.tar.gz');
  });

  it('refuses a release whose migrations disagree with the ones applied', async () => {
    const rewritten = await rel.derive('0.2.5', {
      patch: (tree) => patchFile(tree, 'infra/postgres/migrations/0005_grant_key_rotation.up.sql', '', '-- edited after release\n'),
      migrationManifest: (m, dir) => ({ ...m, '0005_grant_key_rotation.up.sql': sha256File(join(dir, '0005_grant_key_rotation.up.sql')) }),
    });
    await expectRefused(() => upgrade(rewritten), 'release 0.2.5 disagrees with the migrations applied to the database: 0005_grant_key_rotation.up.sql is applied with sha256');
    const forked = await rel.derive('0.2.6', {
      patch: (tree) => rmSync(join(tree, 'infra', 'postgres', 'migrations', '0012_add_audit_recorded_at_hash.up.sql')),
      migrationManifest: (m) => Object.fromEntries(Object.entries(m).filter(([f]) => !f.startsWith('0012_'))),
    });
    await expectRefused(
      () => upgrade(forked),
      'release 0.2.6 disagrees with the migrations applied to the database: 0012_add_audit_recorded_at_hash.up.sql is applied to the database but not in the manifest (caracal-0.2.6/infra/postgres/migrations/manifest.json)',
    );
  });

  it('refuses on a corrupt runtime.json, naming the file', async () => {
    const file = join(stack.home, 'runtime.json');
    const good = readFileSync(file, 'utf8');
    try {
      writeFileSync(file, '{"version": "0.1.');
      const r = await upgrade(b);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`${file} is not JSON`);
      writeFileSync(file, JSON.stringify({ version: 'latest', updatedAt: new Date().toISOString() }));
      expect((await upgrade(b)).stderr).toContain(`${file} has no valid "version" ("latest")`);
      expect(existsSync(versions())).toBe(false);
    } finally {
      writeFileSync(file, good);
    }
  });

  it('refuses while another live process holds the lock, naming the lock file and the PID', async () => {
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    const lock = join(stack.home, '.lock');
    writeFileSync(lock, `${holder.pid}\nup\n`);
    try {
      await expectRefused(() => upgrade(b), `${lock}: another caracal operation (up) holds the lock: PID ${holder.pid}`);
      expect(readFileSync(lock, 'utf8')).toBe(`${holder.pid}\nup\n`);
    } finally {
      holder.kill();
      rmSync(lock, { force: true });
    }
  });

  it('refuses when versions/ is not a directory', async () => {
    writeFileSync(versions(), 'not a directory');
    try {
      await expectRefused(() => upgrade(b), `${versions()} is not a directory; cannot stage release 0.2.0`);
    } finally {
      rmSync(versions());
    }
  });

  it('refuses when versions/ is too small, and cleans up when the disk fills while unpacking', async () => {
    mkdirSync(versions());
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', versions()]);
      try {
        await expectRefused(() => upgrade(b), `${versions()} has 1.0 MB free; release 0.2.0 needs about`);
      } finally {
        execFileSync('umount', [versions()]);
      }
      // Bytes to spare but only a few inodes: creating files fails with ENOSPC half way through.
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m,nr_inodes=200', 'tmpfs', versions()]);
      try {
        await expectRefused(() => upgrade(b), `${versions()}: no space left while unpacking release 0.2.0`);
        expect(execFileSync('ls', ['-A', versions()], { encoding: 'utf8' })).toBe('');
      } finally {
        execFileSync('umount', [versions()]);
      }
    } finally {
      rmSync(versions(), { recursive: true, force: true });
    }
  });

  it('needs --from and, off a terminal, --yes (usage errors, exit 2)', async () => {
    expect((await stack.cli(['upgrade', '--yes'])).stderr).toContain('--from is required');
    const r = await stack.cli(['upgrade', '--from', b]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('add --yes to upgrade without a prompt');
  });

  it('a failing expand migration is rolled back in its transaction; the old version keeps serving; exit 1', async () => {
    const broken = await rel.derive('0.3.0', { migrations: [{ file: `${NEXT_MIGRATION}_add_zone_note.up.sql`, sql: 'ALTER TABLE zones ADD COLUMN note text;\nSELECT 1 / 0;\n' }] });
    const pids = stack.pids();
    const r = await upgrade(broken);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${NEXT_MIGRATION}_add_zone_note.up.sql failed and was rolled back: division by zero`);
    expect(r.stderr).toContain(`every service still runs ${rel.aVersion}`);
    expect(stack.pids()).toEqual(pids);
    expect(JSON.parse(readFileSync(join(stack.home, 'runtime.json'), 'utf8')).version).toBe(rel.aVersion);
    // The column of the failed file is not there; the old version keeps writing and reading.
    const client = new pg.Client({ connectionString: readFileSync(join(stack.home, 'secrets', 'databaseUrl'), 'utf8') });
    await client.connect();
    try {
      const cols = await client.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'caracal' AND table_name = 'zones' AND column_name = 'note'");
      expect(cols.rowCount).toBe(0);
    } finally {
      await client.end();
    }
    expect(await stack.createZone('after-failed-expand')).toBe(201);
    const run = stack.journal().filter((l) => l.run === stack.journal().at(-1)!.run);
    const steps = run.map((l) => `${l.step}:${l.outcome}`);
    expect(steps).toEqual(['verified:ok', 'staged:ok', 'migrated:failed', 'failed:failed']);
    expect(stack.journal().at(-1)).toMatchObject({ version: '0.3.0', from: rel.aVersion, stackOn: rel.aVersion });
  });
});

const sha256File = (file: string) => execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]!;

/** manifest.json lists artefact digests; after an artefact changes they must be rewritten before re-signing. */
function rewriteManifestDigests(dir: string): void {
  const file = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  for (const a of m.artefacts) a.sha256 = sha256File(join(dir, a.name));
  writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`);
}
