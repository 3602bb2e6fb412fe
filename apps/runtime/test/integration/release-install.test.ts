// installers/install.sh (R-REL-3) against a release built in the test: verify (signature, then checksum, then entry
// list) before anything is written, atomic switch, receipt, idempotent reinstall, uninstall by receipt.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../../../test-support/cli.js';
import { freePort } from '../../../../test-support/deps.js';
import { buildRelease, copyRelease, resign, tempDir, throwawayKey, type KeyPair } from './release-fixture.js';

const INSTALLER = join(REPO, 'installers', 'install.sh');
const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];

/** Every file and symlink under `dir`, relative to it (symlinks not followed). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out = execFileSync('find', ['.', '!', '-type', 'd'], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.split('\n').filter(Boolean).map((p) => p.slice(2)).sort();
}

describe('installers/install.sh', () => {
  const tmp = tempDir('release-install');
  let key: KeyPair;
  let release: string;
  let version: string;
  let n = 0;
  const prefix = () => join(tmp.dir, `prefix-${++n}`);
  const install = async (args: string[]) => {
    const r = await execa('sh', [INSTALLER, ...args], { reject: false, stdin: 'ignore', env: { PATH: process.env.PATH!, HOME: tmp.dir, TMPDIR: tmp.dir }, extendEnv: false, timeout: 120_000 });
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const installed = (p: string, ...args: string[]) => execFileSync(join(p, 'bin', 'caracal'), args, { encoding: 'utf8', env: { PATH: process.env.PATH, NO_COLOR: '1' } }).trim();
  /** A refused install: exit 1, the message, and nothing at all under the prefix. */
  const expectRefused = async (from: string, message: string) => {
    const p = prefix();
    const r = await install(['--from', from, '--prefix', p, '--key', key.publicFile]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(message);
    expect(existsSync(p)).toBe(false);
  };

  beforeAll(async () => {
    key = await throwawayKey(tmp.dir, 'key');
    release = await buildRelease(join(tmp.dir, 'built'), key);
    version = release.split('/').pop()!;
  });
  afterAll(() => tmp.remove());

  it('pins the committed release key', () => {
    const pinned = readFileSync(join(REPO, 'installers', 'caracal-release.pub'), 'utf8').trim();
    expect(readFileSync(INSTALLER, 'utf8')).toContain(`PINNED_KEY='${pinned}'`);
  });

  it('installs, runs from the installed tree, writes a receipt of every file, reinstalls idempotently and uninstalls completely', async () => {
    const p = prefix();
    const r = await install(['--from', release, '--prefix', p, '--key', key.publicFile]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`installed caracal ${version} into ${join(p, 'lib', 'caracal', version)}`);
    expect(r.stderr).toContain(`warning: ${join(p, 'bin')} is not on PATH`);
    expect(realpathSync(join(p, 'bin', 'caracal'))).toBe(join(p, 'lib', 'caracal', version, 'apps', 'runtime', 'bin', 'caracal.js'));
    expect(installed(p, '--version')).toBe(version);
    // Migrations are found in the installed tree, not in the checkout.
    expect(installed(p, 'migrate', 'validate')).toMatch(/migrations valid/);
    const receipt = readFileSync(join(p, 'lib', 'caracal', version, 'INSTALL-RECEIPT'), 'utf8');
    const listed = receipt.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.slice(l.indexOf('  ') + 2)).sort();
    expect(listed).toEqual(filesUnder(p));
    // What an install killed right after renaming its directory into place leaves: an empty staging directory.
    mkdirSync(join(p, 'lib', 'caracal', `.staging-${version}.killed`));
    const again = await install(['--from', join(release, `caracal-${version}.tar.gz`), '--prefix', p, '--key', key.publicFile, '--version', version]);
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain('already installed');
    expect(existsSync(join(p, 'lib', 'caracal', `.staging-${version}.killed`))).toBe(false);
    expect(readFileSync(join(p, 'lib', 'caracal', version, 'INSTALL-RECEIPT'), 'utf8')).toBe(receipt);
    // verify-release --installed: the tree against its receipt.
    expect(installed(p, 'verify-release', '--installed')).toContain(`installation ${version} verified`);
    const conf = join(p, 'lib', 'caracal', version, 'infra', 'redis', 'redis.conf');
    const original = readFileSync(conf);
    writeFileSync(conf, Buffer.concat([original, Buffer.from('\n')]));
    const tampered = installedJson(p);
    expect(tampered.status).toBe(1);
    expect(tampered.report.firstFailure).toMatchObject({ check: 'installed-files', file: `lib/caracal/${version}/infra/redis/redis.conf` });
    writeFileSync(conf, original);
    writeFileSync(join(p, 'lib', 'caracal', version, 'extra.js'), '');
    expect(installedJson(p).report.firstFailure).toMatchObject({ check: 'unlisted-files', file: `lib/caracal/${version}/extra.js` });
    rmSync(join(p, 'lib', 'caracal', version, 'extra.js'));
    const gone = await install(['--uninstall', '--prefix', p]);
    expect(gone.exitCode).toBe(0);
    expect(filesUnder(p)).toEqual([]);
  });

  it('caracal up runs the stack from the installed tree, not the checkout', async () => {
    const p = prefix();
    expect((await install(['--from', release, '--prefix', p, '--key', key.publicFile])).exitCode).toBe(0);
    const env = { PATH: process.env.PATH, NO_COLOR: '1', CI: '1', CARACAL_HOME: join(tmp.dir, 'stack-home') };
    const ports: Record<string, number> = {};
    for (const name of [...SERVICES, 'pg', 'redis']) ports[name] = await freePort();
    const cli = (...args: string[]) => spawnSync(join(p, 'bin', 'caracal'), args, { encoding: 'utf8', env, timeout: 170_000 });
    try {
      const init = cli('init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis), ...SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`]));
      expect(init.status, init.stderr).toBe(0);
      const up = cli('up', '--json');
      expect(up.status, up.stderr).toBe(0);
      const supervisor = JSON.parse(readFileSync(join(env.CARACAL_HOME, 'data', 'supervisor.json'), 'utf8'));
      const pids = JSON.stringify(supervisor).match(/"pid":\d+/g)!.map((m) => Number(m.slice(6)));
      const commands = pids.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
      // each service from the release's bundle of it
      for (const svc of SERVICES) expect(commands.some((c) => c.includes(join(p, 'lib', 'caracal', version, 'services', svc, 'dist', 'service.mjs')))).toBe(true);
      expect(commands.some((c) => c.includes(REPO))).toBe(false);
    } finally {
      cli('down', '--volumes', '--yes');
    }
  });

  it('refuses a bad signature, a bad checksum and a truncated archive with nothing written', async () => {
    // The pinned key did not sign this release.
    const p = prefix();
    const pinned = await install(['--from', release, '--prefix', p]);
    expect(pinned.exitCode).toBe(1);
    expect(pinned.stderr).toContain('bad signature over SHA256SUMS');
    expect(existsSync(p)).toBe(false);
    const badSig = copyRelease(release, tmp.dir, 'bad-sig');
    writeFileSync(join(badSig, 'SHA256SUMS'), readFileSync(join(badSig, 'SHA256SUMS'), 'utf8').replace(/^./, (c) => (c === 'a' ? 'b' : 'a')));
    await expectRefused(badSig, 'bad signature over SHA256SUMS');
    const badSum = copyRelease(release, tmp.dir, 'bad-sum');
    const archive = join(badSum, `caracal-${version}.tar.gz`);
    const buf = readFileSync(archive);
    buf[100]! ^= 0xff;
    writeFileSync(archive, buf);
    await expectRefused(badSum, `caracal-${version}.tar.gz: checksum mismatch`);
    // Truncated, then listed and signed as it is: only reading the archive to its end shows it.
    const cut = copyRelease(release, tmp.dir, 'cut');
    truncateSync(join(cut, `caracal-${version}.tar.gz`), Math.floor(buf.length / 2));
    await resign(cut, key);
    await expectRefused(cut, 'not a readable gzip tar');
  });

  it('refuses a signed archive holding a symlink that points outside it', async () => {
    const evil = join(tmp.dir, 'evil');
    mkdirSync(join(evil, 'src', `caracal-${version}`), { recursive: true });
    symlinkSync('../../../../etc', join(evil, 'src', `caracal-${version}`, 'an escape'));
    mkdirSync(join(evil, 'rel'));
    execFileSync('tar', ['-czf', join(evil, 'rel', `caracal-${version}.tar.gz`), '-C', join(evil, 'src'), `caracal-${version}`]);
    await resign(join(evil, 'rel'), key);
    await expectRefused(join(evil, 'rel'), `refused entry caracal-${version}/an escape -> ../../../../etc (points outside the release)`);
  });

  it('a prefix that is not writable, a wrong --version and bad usage are refused clearly', async () => {
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, '');
    const r = await install(['--from', release, '--prefix', join(file, 'sub'), '--key', key.publicFile]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`--prefix ${join(file, 'sub')} is not writable`);
    const v = await install(['--from', release, '--prefix', prefix(), '--key', key.publicFile, '--version', '9.9.9']);
    expect(v.exitCode).toBe(1);
    expect(v.stderr).toContain(`--version 9.9.9 asked for, but ${release} holds ${version}`);
    const traversal = await install(['--uninstall', '--version', '../..', '--prefix', prefix()]);
    expect(traversal.exitCode).toBe(2);
    expect(traversal.stderr).toContain('--version ../.. is not a version');
    const u = await install(['--frobnicate']);
    expect(u.exitCode).toBe(2);
    expect(u.stderr).toContain('unknown argument: --frobnicate');
    const h = await install(['--help']);
    expect(h.exitCode).toBe(0);
    expect(h.stdout).toContain('usage: install.sh --from DIR|ARCHIVE');
  });

  it('an install killed midway leaves the previous version working', async () => {
    const p = prefix();
    expect((await install(['--from', release, '--prefix', p, '--key', key.publicFile])).exitCode).toBe(0);
    // Make that install look like an older version, still what bin/caracal runs.
    renameSync(join(p, 'lib', 'caracal', version), join(p, 'lib', 'caracal', '0.0.9'));
    rmSync(join(p, 'bin', 'caracal'));
    symlinkSync('../lib/caracal/0.0.9/apps/runtime/bin/caracal.js', join(p, 'bin', 'caracal'));
    for (const delayMs of [300, 1200, 2500]) {
      const child = execa('sh', [INSTALLER, '--from', release, '--prefix', p, '--key', key.publicFile], { reject: false, detached: true, stdin: 'ignore', env: { TMPDIR: tmp.dir } });
      await sleep(delayMs);
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      await child;
      expect(installed(p, '--version')).toBe(version);
      expect(existsSync(join(p, 'lib', 'caracal', '0.0.9', 'INSTALL-RECEIPT'))).toBe(true);
      if (readlinkTarget(p).includes(`/${version}/`)) break;
    }
    const done = await install(['--from', release, '--prefix', p, '--key', key.publicFile]);
    expect(done.exitCode).toBe(0);
    expect(readlinkTarget(p)).toBe(`../lib/caracal/${version}/apps/runtime/bin/caracal.js`);
    expect(readdirSync(join(p, 'lib', 'caracal')).filter((d) => d.startsWith('.staging'))).toEqual([]);
  });
});

function installedJson(p: string) {
  const r = spawnSync(join(p, 'bin', 'caracal'), ['verify-release', '--installed', '--json'], { encoding: 'utf8' });
  return { status: r.status, report: JSON.parse(r.stdout) };
}

const readlinkTarget = (p: string) => execFileSync('readlink', [join(p, 'bin', 'caracal')], { encoding: 'utf8' }).trim();
