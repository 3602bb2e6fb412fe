// `caracal init` on a temporary home: file modes, secret sizes, idempotence, regeneration, nothing secret printed.
import { chmodSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caracal, tempHome } from '../../../../test-support/cli.js';

const EXPECTED: Record<string, number> = {
  postgresPassword: 24,
  redisPassword: 24,
  caracalAdminToken: 32,
  caracalCoordinatorToken: 32,
  metricsBearer: 32,
  secretStoreKek: 32,
  auditHmacKey: 32,
  streamsHmacKey: 32,
  idempotencyHmacKey: 32,
  gatewayStsHmacKey: 32,
  apiDbPassword: 24,
  coordinatorDbPassword: 24,
  stsDbPassword: 24,
  gatewayDbPassword: 24,
  auditDbPassword: 24,
  // The evidence key's P-256 scalar: 32 bytes, generated as a real key (R-EVD-1).
  evidenceSigningKey: 32,
};
const DERIVED = ['databaseUrl', 'apiDatabaseUrl', 'coordinatorDatabaseUrl', 'stsDatabaseUrl', 'gatewayDatabaseUrl', 'auditDatabaseUrl', 'redisUrl'];

const mode = (p: string) => statSync(p).mode & 0o777;

describe('caracal init', () => {
  let home: ReturnType<typeof tempHome>;
  let env: Record<string, string>;
  beforeEach(() => {
    home = tempHome('init');
    env = { CARACAL_HOME: join(home.dir, 'h') };
  });
  afterEach(() => home.remove());

  it('creates the home, caracal.env (0600) and every secret (0444, hex, right length) in a 0700 directory', async () => {
    const r = await caracal(['init', '--yes'], env);
    expect(r.exitCode).toBe(0);
    const root = env.CARACAL_HOME!;
    expect(mode(root)).toBe(0o700);
    expect(mode(join(root, 'caracal.env'))).toBe(0o600);
    expect(mode(join(root, 'secrets'))).toBe(0o700);
    for (const [name, bytes] of Object.entries(EXPECTED)) {
      const p = join(root, 'secrets', name);
      expect(mode(p), name).toBe(0o444);
      const v = readFileSync(p, 'utf8');
      expect(v, name).toMatch(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
    }
    for (const name of DERIVED) expect(mode(join(root, 'secrets', name)), name).toBe(0o444);
    // Each secret is independent randomness: no two generated secrets are equal.
    const values = Object.keys(EXPECTED).map((n) => readFileSync(join(root, 'secrets', n), 'utf8'));
    expect(new Set(values).size).toBe(values.length);
    // Nothing secret on stdout or stderr, and none in caracal.env.
    const envText = readFileSync(join(root, 'caracal.env'), 'utf8');
    for (const v of values) {
      expect(r.stdout).not.toContain(v);
      expect(r.stderr).not.toContain(v);
      expect(envText).not.toContain(v);
    }
    expect(r.stdout).toContain('secrets created: postgresPassword');
  });

  it('a second init creates nothing and changes nothing', async () => {
    expect((await caracal(['init', '--yes'], env)).exitCode).toBe(0);
    const dir = join(env.CARACAL_HOME!, 'secrets');
    const before = Object.fromEntries(readdirSync(dir).map((f) => [f, [readFileSync(join(dir, f), 'utf8'), statSync(join(dir, f)).mtimeMs]]));
    const envBefore = readFileSync(join(env.CARACAL_HOME!, 'caracal.env'), 'utf8');
    const r = await caracal(['init', '--yes', '--json'], env);
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ config: 'kept', secretsCreated: [], derivedWritten: [] });
    const after = Object.fromEntries(readdirSync(dir).map((f) => [f, [readFileSync(join(dir, f), 'utf8'), statSync(join(dir, f)).mtimeMs]]));
    expect(after).toEqual(before);
    expect(readFileSync(join(env.CARACAL_HOME!, 'caracal.env'), 'utf8')).toBe(envBefore);
  });

  it('regenerates an emptied secret, reports only that one, and re-renders what derives from it', async () => {
    await caracal(['init', '--yes'], env);
    const p = join(env.CARACAL_HOME!, 'secrets', 'stsDbPassword');
    const old = readFileSync(p, 'utf8');
    chmodSync(p, 0o644);
    truncateSync(p, 0);
    const r = await caracal(['init', '--yes', '--json'], env);
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.secretsCreated).toEqual(['stsDbPassword']);
    expect(report.derivedWritten).toEqual(['stsDatabaseUrl']);
    const fresh = readFileSync(p, 'utf8');
    expect(fresh).toMatch(/^[0-9a-f]{48}$/);
    expect(fresh).not.toBe(old);
    expect(mode(p)).toBe(0o444);
  });

  it('never clobbers an edited caracal.env', async () => {
    await caracal(['init', '--yes'], env);
    const p = join(env.CARACAL_HOME!, 'caracal.env');
    const edited = readFileSync(p, 'utf8').replace('CARACAL_LOG_LEVEL=info', 'CARACAL_LOG_LEVEL=debug');
    writeFileSync(p, edited);
    expect((await caracal(['init', '--yes', '--mode', 'dev'], env)).exitCode).toBe(0);
    expect(readFileSync(p, 'utf8')).toBe(edited);
  });

  it('takes an external database URL from a file and never echoes it', async () => {
    const urlFile = join(home.dir, 'db-url');
    const url = 'postgres://someone:hunter2hunter2@127.0.0.1:5432/caracal_ext_example';
    writeFileSync(urlFile, url, { mode: 0o600 });
    const r = await caracal(['init', '--yes', '--database-url-file', urlFile], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('hunter2');
    const settings = readFileSync(join(env.CARACAL_HOME!, 'caracal.env'), 'utf8');
    expect(settings).toContain('CARACAL_DATABASE=external');
    expect(settings).toContain('CARACAL_DB_ROLE_PREFIX=caracal_ext_example');
    expect(settings).not.toContain('hunter2');
    expect(readFileSync(join(env.CARACAL_HOME!, 'secrets', 'databaseUrl'), 'utf8')).toBe(url);
  });

  it('refuses bad flag values with a usage error naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['init', '--yes', '--mode', 'prod'], /--mode/],
      [['init', '--yes', '--pg-port', '70000'], /--pg-port/],
      [['init', '--yes', '--port', 'nosuch=1234'], /--port nosuch=1234/],
      [['init', '--yes', '--issuer-url', 'ftp://x'], /--issuer-url/],
      [['init', '--yes', '--database-url-file', '/nonexistent/url'], /--database-url-file: \/nonexistent\/url cannot be read/],
      [['init', '--yes', '--redis-key-prefix', 'a b'], /--redis-key-prefix/],
    ];
    for (const [args, message] of cases) {
      const r = await caracal(args, env);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('refuses a URL file whose content is not a postgres URL', async () => {
    const urlFile = join(home.dir, 'db-url');
    writeFileSync(urlFile, 'mysql://u:p@h/d');
    const r = await caracal(['init', '--yes', '--database-url-file', urlFile], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--database-url-file: unsupported scheme mysql:');
    expect(r.stderr).not.toContain('u:p@');
  });
});
