// CLI conventions: usage errors exit 2 with a suggestion, help documents exit codes, destructive commands refuse
// to run non-interactively without --yes, and validation commands report what they found.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { caracal, tempHome } from '../../../../test-support/cli.js';

describe('caracal usage', () => {
  const home = tempHome('usage');
  const env = { CARACAL_HOME: join(home.dir, 'h') };
  afterAll(() => home.remove());

  it('an unknown command exits 2 and suggests the closest one', async () => {
    const r = await caracal(['stauts'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown command 'stauts'");
    expect(r.stderr).toContain('Did you mean status?');
  });

  it('an unknown flag exits 2 and suggests the closest one', async () => {
    const r = await caracal(['status', '--jsn'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown option '--jsn'");
    expect(r.stderr).toContain('Did you mean --json?');
  });

  it('a bad option value exits 2 naming the flag', async () => {
    const r = await caracal(['status', '--wait', 'soon'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--wait must be a non-negative integer');
  });

  it('--help and --version exit 0; help documents the exit codes', async () => {
    const help = await caracal(['--help'], env);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:\n\s+0\s+success\n\s+1\s+failure.*\n\s+2\s+usage error/);
    for (const cmd of ['init', 'up', 'down', 'status', 'logs', 'migrate', 'doctor', 'purge']) expect(help.stdout).toContain(cmd);
    const upHelp = await caracal(['up', '--help'], env);
    expect(upHelp.stdout).toContain('Exit codes:');
    const version = await caracal(['--version'], env);
    expect(version.exitCode).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('help marks required options; leaving one out is a usage error naming it', async () => {
    const help = await caracal(['zone', 'create', '--help'], env);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/--name <name>\s+display name \(required\)/);
    const r = await caracal(['zone', 'create', 'payments'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("required option '--name <name>' not specified");
  });

  it('commands that need a home say how to make one', async () => {
    const r = await caracal(['status'], env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('is not initialised');
    expect(r.stderr).toContain('caracal init');
  });

  it('down before anything was initialised exits 0 and says nothing ran', async () => {
    const r = await caracal(['down'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('nothing was running');
  });

  it('logs rejects an unknown service with exit 2', async () => {
    const r = await caracal(['logs', 'mysql'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown service 'mysql'");
  });

  it('logs prints the last N lines of a service log', async () => {
    await caracal(['init', '--yes'], env);
    writeFileSync(join(env.CARACAL_HOME, 'logs', 'sts.log'), ['one', 'two', 'three', ''].join('\n'));
    const r = await caracal(['logs', 'sts', '-n', '2'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('two\nthree');
  });

  it('destructive commands refuse to run non-interactively without --yes', async () => {
    const purge = await caracal(['purge', 'secrets'], env);
    expect(purge.exitCode).toBe(2);
    expect(purge.stderr).toContain('add --yes');
    const down = await caracal(['down', '--volumes'], env);
    expect(down.exitCode).toBe(2);
    expect(down.stderr).toContain('add --yes');
    const badTarget = await caracal(['purge', 'everything', '--yes'], env);
    expect(badTarget.exitCode).toBe(2);
    expect(badTarget.stderr).toContain('unknown purge target(s): everything');
  });

  it('purge --dry-run lists what it would remove and removes nothing; purge --yes removes it', async () => {
    const dry = await caracal(['purge', 'secrets', 'logs', '--dry-run', '--json'], env);
    expect(dry.exitCode).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.dryRun).toBe(true);
    expect(plan.removed).toContain(join(env.CARACAL_HOME, 'secrets'));
    expect((await caracal(['doctor', '--json'], env)).stdout).toContain('secret files');
    const real = await caracal(['purge', 'secrets', '--yes', '--json'], env);
    expect(real.exitCode).toBe(0);
    expect(JSON.parse(real.stdout).removed).toEqual([join(env.CARACAL_HOME, 'secrets')]);
    const again = await caracal(['purge', 'secrets', '--yes'], env);
    expect(again.stdout).toContain('nothing to remove');
  });

  it('migrate validate exits 1 and names file, line and construct of contract DDL without the tag', async () => {
    const dir = join(home.dir, 'migrations');
    mkdirSync(dir);
    writeFileSync(join(dir, '0001_create_things.up.sql'), 'CREATE TABLE things (id int);\n');
    writeFileSync(join(dir, '0002_drop_column.up.sql'), '-- tidy up\nALTER TABLE things\n  drop\n  COLUMN id;\n');
    writeFileSync(join(dir, 'manifest.json'), '{}');
    const r = await caracal(['migrate', 'validate', '--dir', dir], env);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain("0002_drop_column.up.sql:3: DROP COLUMN is contract-phase DDL; add the header '-- caracal:phase contract'");
    writeFileSync(join(dir, '0002_drop_column.up.sql'), '-- caracal:phase contract\nALTER TABLE things DROP COLUMN id;\n');
    const ok = await caracal(['migrate', 'validate', '--dir', dir, '--json'], env);
    expect(ok.exitCode).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, files: 2, violations: [] });
  });

  it('migrate validate passes on the shipped migrations and their manifest', async () => {
    const r = await caracal(['migrate', 'validate'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/\d+ migrations valid/);
  });
});
