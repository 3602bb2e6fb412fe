// `caracal evidence-pack` as a process, with the stack down: bad inputs are exit 2 with a clear message and leave
// nothing behind; a pack still builds (database and Redis checks SKIPPED with the reason, readiness FAIL, exit 1)
// and `evidence-pack verify` passes on its directory and archive and names tampering.
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caracal, tempHome } from '../../../../test-support/cli.js';

// Every check that reads Postgres or Redis: with both down, each is SKIPPED and says why.
const DB_OR_REDIS = ['schema-rls', 'schema-roles', 'schema-audit-append-only', 'schema-migrations', 'zone-isolation-probe', 'audit-chains', 'config-redis', 'key-freshness'];

describe('caracal evidence-pack (stack down)', () => {
  let home: ReturnType<typeof tempHome>;
  let env: Record<string, string>;
  let out: string;
  const listing = () => readdirSync(out).sort();
  const run = (args: string[], extra: Record<string, string> = {}) => caracal(['evidence-pack', ...args], { ...env, ...extra });

  beforeAll(async () => {
    home = tempHome('evidence');
    out = join(home.dir, 'out');
    mkdirSync(out);
    env = { CARACAL_HOME: join(home.dir, 'h') };
    // Ports nothing listens on: Postgres, Redis and every service are down.
    const ports = ['api=2', 'coordinator=3', 'sts=4', 'gateway=5', 'audit=6'].flatMap((p) => ['--port', p]);
    const init = await caracal(['init', '--yes', '--pg-port', '7', '--redis-port', '8', ...ports], env);
    expect(init.exitCode, init.stderr).toBe(0);
  });
  afterAll(() => home.remove());

  let pack: string;

  it('builds a pack: Postgres and Redis checks SKIPPED with the reason, readiness FAIL, exit 1, a JSON summary', async () => {
    pack = join(out, 'pack1');
    const r = await run(['--out', pack, '--json']);
    expect(r.exitCode, r.stderr).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ path: pack, archive: `${pack}.tar.gz`, exit: 1 });
    const byId = Object.fromEntries(summary.checks.map((c: { id: string }) => [c.id, c]));
    expect(byId['runtime-readiness']).toMatchObject({ status: 'FAIL' });
    expect(byId['audit-continuity']).toMatchObject({ status: 'SKIPPED', reason: expect.stringContaining('no previous pack given') });
    for (const id of DB_OR_REDIS) {
      expect(byId[id], id).toMatchObject({ status: 'SKIPPED', reason: expect.stringMatching(/unreachable/) });
    }
    expect(summary.checks.filter((c: { status: string; reason: string }) => c.status === 'SKIPPED' && !c.reason)).toEqual([]);
    expect(r.stderr).toContain('Postgres unreachable');
    expect(r.stderr).toMatch(/FAIL\s+runtime-readiness/);
    expect(listing()).toEqual(['pack1', 'pack1.tar.gz']);
    const manifest = JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8'));
    expect(manifest.chain_heads).toBeNull();
    expect(readFileSync(join(pack, 'REPORT.md'), 'utf8')).toContain('| Runtime | runtime-readiness | FAIL |');
  });

  it('verify passes on the directory and the archive, with the installation key given as --key', async () => {
    for (const target of [pack, `${pack}.tar.gz`]) {
      const r = await run(['verify', target, '--key', join(pack, 'evidence-key.pub.pem')]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('evidence pack verified');
    }
    const j = await run(['verify', `${pack}.tar.gz`, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: true, source: 'archive', findings: [] });
  });

  it('--out that exists, or whose archive exists: exit 2, nothing written', async () => {
    const r = await run(['--out', pack]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${pack} already exists`);
    writeFileSync(join(out, 'taken.tar.gz'), '');
    const a = await run(['--out', join(out, 'taken')]);
    expect(a.exitCode).toBe(2);
    expect(a.stderr).toContain('taken.tar.gz already exists');
    unlinkSync(join(out, 'taken.tar.gz'));
    expect(listing()).toEqual(['pack1', 'pack1.tar.gz']);
  });

  it('--out that cannot be written: exit 2, nothing written', async () => {
    const r = await run(['--out', join(out, 'pack1.tar.gz', 'p')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('cannot write the evidence pack in');
    if (process.getuid?.() !== 0) {
      const locked = join(out, 'locked');
      mkdirSync(locked, { mode: 0o555 });
      const l = await run(['--out', join(locked, 'p')]);
      expect(l.exitCode).toBe(2);
      expect(l.stderr).toContain('EACCES');
      expect(readdirSync(locked)).toEqual([]);
      rmSync(locked, { recursive: true });
    }
    expect(listing()).toEqual(['pack1', 'pack1.tar.gz']);
  });

  it('--previous that is not a pack, or fails its own verification: exit 2, nothing written', async () => {
    const notPack = join(home.dir, 'not-a-pack');
    mkdirSync(notPack);
    writeFileSync(join(notPack, 'x'), 'x');
    const r = await run(['--out', join(out, 'p2'), '--previous', notPack]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('is not an evidence pack');
    const tampered = join(home.dir, 'tampered');
    await caracal(['evidence-pack', '--out', tampered], env);
    writeFileSync(join(tampered, 'REPORT.md'), readFileSync(join(tampered, 'REPORT.md'), 'utf8').replace('| FAIL |', '| PASS |'));
    const t = await run(['--out', join(out, 'p2'), '--previous', tampered]);
    expect(t.exitCode).toBe(2);
    expect(t.stderr).toContain('fails its own verification');
    expect(t.stderr).toContain('altered REPORT.md');
    // Untampered but without chain heads (built with the database down): no continuity point, refused.
    const h = await run(['--out', join(out, 'p2'), '--previous', `${pack}.tar.gz`]);
    expect(h.exitCode).toBe(2);
    expect(h.stderr).toContain('records no audit chain heads');
    expect(listing()).toEqual(['pack1', 'pack1.tar.gz']);
  });

  it('verify names tampering (exit 1) and refuses what is not a pack (exit 2)', async () => {
    const copy = join(home.dir, 'copy');
    await caracal(['evidence-pack', '--out', copy], env);
    writeFileSync(join(copy, 'raw', 'added.txt'), 'x');
    const r = await run(['verify', copy]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/ADDED\s+raw\/added.txt/);
    expect(r.stdout).toContain('NOT verified');
    const bad = await run(['verify', join(home.dir, 'nothing-here')]);
    expect(bad.exitCode).toBe(2);
    const key = await run(['verify', copy, '--key', join(copy, 'REPORT.md')]);
    expect(key.exitCode).toBe(2);
    expect(key.stderr).toContain('is not a PEM public key');
  });

  it('a missing evidence key: exit 2, run `caracal init`, nothing written', async () => {
    const secrets = join(env.CARACAL_HOME!, 'secrets');
    chmodSync(secrets, 0o700);
    unlinkSync(join(secrets, 'evidenceSigningKey'));
    const r = await run(['--out', join(out, 'p3')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('no usable evidence signing key');
    expect(r.stderr).toContain('run `caracal init`');
    expect(listing()).toEqual(['pack1', 'pack1.tar.gz']);
    const init = await caracal(['init', '--yes', '--json'], env);
    expect(JSON.parse(init.stdout).secretsCreated).toEqual(['evidenceSigningKey']);
  });
});
