// The posture checks' own logic on fixtures in a temporary home: file modes and owners (symlinks never followed),
// key and secret ages at the limit and past it, the caracal.env secret scan (which names lines and keys, never
// values), the threat model's ids, the install-root kinds, readiness answers and the Redis read fallback.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckDefinition, EvidenceContext } from '../../src/evidence/check.js';
import { configEnvFile, envFileSecrets, envNameOf, isSecretKey } from '../../src/evidence/checks/config-env-file.js';
import { configMode } from '../../src/evidence/checks/config-mode.js';
import { configRedis, infoField } from '../../src/evidence/checks/config-redis.js';
import { configSecretFiles, factsOf, modeProblem } from '../../src/evidence/checks/config-secret-files.js';
import { ageDays, overLimit } from '../../src/evidence/checks/key-freshness.js';
import { CHECKS } from '../../src/evidence/checks/index.js';
import { releaseProvenance, rootKind } from '../../src/evidence/checks/release-provenance.js';
import { notReady } from '../../src/evidence/checks/runtime-readiness.js';
import { FRESHNESS_SECRETS, secretFreshness } from '../../src/evidence/checks/secret-freshness.js';
import { threatLines, threatModel, THREAT_IDS } from '../../src/evidence/checks/threat-model.js';
import { layout } from '../../src/home/paths.js';
import { parseSettings, renderTemplate } from '../../src/home/settings.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000);
const TEMPLATE = renderTemplate({ mode: 'stable', runtime: 'local', database: 'managed', redis: 'managed' });
const SECRET = 'a3f1'.repeat(16);

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'caracal-posture-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A home as `caracal init` leaves it: caracal.env 0600, secrets/ 0700 with every freshness secret 0444. */
function home(envText = TEMPLATE, settingsText = TEMPLATE): EvidenceContext {
  const h = layout(join(tmp, 'h'), false);
  mkdirSync(h.secretsDir, { recursive: true, mode: 0o700 });
  chmodSync(h.root, 0o700);
  writeFileSync(h.envFile, envText, { mode: 0o600 });
  for (const name of [...FRESHNESS_SECRETS, 'metricsBearer']) writeFileSync(join(h.secretsDir, name), name === 'metricsBearer' ? SECRET : `${name}-value-0123456789`, { mode: 0o444 });
  const root = join(tmp, 'root');
  mkdirSync(join(root, 'governance'), { recursive: true });
  return { home: h, settings: parseSettings(settingsText, h.envFile), root, env: {}, now: () => NOW, db: { ok: false, reason: 'Postgres unreachable: x' }, redis: { ok: false, reason: 'Redis unreachable: y' }, previous: null };
}

const run = async (check: CheckDefinition, ctx: EvidenceContext) => check.run(ctx);

describe('file modes', () => {
  it('a 0444 regular file and a 0700 directory of the expected owner pass', () => {
    writeFileSync(join(tmp, 's'), 'x', { mode: 0o444 });
    chmodSync(join(tmp, 's'), 0o444);
    chmodSync(tmp, 0o700);
    const uid = process.getuid!();
    expect(modeProblem('s', factsOf(join(tmp, 's')), { kind: 'file', mode: 0o444, uid })).toBeUndefined();
    expect(modeProblem('d', factsOf(tmp), { kind: 'directory', mode: 0o700, uid })).toBeUndefined();
  });

  it('names the wrong mode, a symlink (not followed), a directory in place of a file, a missing path and a foreign owner', () => {
    const file = join(tmp, 'f');
    writeFileSync(file, 'x');
    chmodSync(file, 0o644);
    symlinkSync(file, join(tmp, 'link'));
    mkdirSync(join(tmp, 'sub'));
    const want = { kind: 'file' as const, mode: 0o444, uid: null };
    expect(modeProblem('f', factsOf(file), want)).toBe('f is mode 0644, not 0444');
    expect(factsOf(join(tmp, 'link'))).toMatchObject({ kind: 'symlink' });
    expect(modeProblem('link', factsOf(join(tmp, 'link')), want)).toBe('link is a symlink, not a regular file');
    expect(modeProblem('sub', factsOf(join(tmp, 'sub')), want)).toBe('sub is a directory, not a regular file');
    expect(modeProblem('gone', factsOf(join(tmp, 'gone')), want)).toBe('gone is missing');
    chmodSync(file, 0o444);
    expect(modeProblem('f', factsOf(file), { ...want, uid: process.getuid!() + 1 })).toBe(`f is owned by uid ${process.getuid!()}, not the installation's uid ${process.getuid!() + 1}`);
    // setuid and sticky bits are part of the mode too.
    chmodSync(file, 0o4444);
    expect(modeProblem('f', factsOf(file), want)).toBe('f is mode 4444, not 0444');
  });

  it('config-secret-files: PASS on a fresh home; each bad entry and a 0755 directory FAIL by name and mode', async () => {
    const ctx = home();
    expect(await run(configSecretFiles, ctx)).toMatchObject({ status: 'PASS' });
    chmodSync(join(ctx.home.secretsDir, 'auditHmacKey'), 0o644);
    symlinkSync(join(ctx.home.secretsDir, 'metricsBearer'), join(ctx.home.secretsDir, 'zLink'));
    chmodSync(ctx.home.secretsDir, 0o755);
    const r = await run(configSecretFiles, ctx);
    expect(r.status).toBe('FAIL');
    expect(r.reason).toContain(`directory ${ctx.home.secretsDir} is mode 0755, not 0700`);
    expect(r.reason).toContain(`${join(ctx.home.secretsDir, 'auditHmacKey')} is mode 0644, not 0444`);
    expect(r.reason).toContain(`${join(ctx.home.secretsDir, 'zLink')} is a symlink`);
    expect(JSON.stringify(r.raw)).not.toContain(SECRET);
  });
});

describe('ages', () => {
  it('counts whole days and allows exactly the limit', () => {
    expect(ageDays(daysAgo(90), NOW)).toBe(90);
    expect(ageDays(new Date(daysAgo(90).getTime() - 1), NOW)).toBe(90);
    expect(ageDays(new Date(daysAgo(91).getTime() + 1), NOW)).toBe(90);
    expect(ageDays(daysAgo(-3), NOW)).toBe(0);
    expect(overLimit(90, 90)).toBe(false);
    expect(overLimit(91, 90)).toBe(true);
  });

  it('secret-freshness: the HMAC keys and the KEK by mtime; an old or missing one FAILs by file name, never value', async () => {
    expect([...FRESHNESS_SECRETS].sort()).toEqual(['auditHmacKey', 'gatewayStsHmacKey', 'idempotencyHmacKey', 'secretStoreKek', 'streamsHmacKey']);
    const ctx = home();
    for (const n of FRESHNESS_SECRETS) utimesSync(join(ctx.home.secretsDir, n), daysAgo(365), daysAgo(365));
    expect(await run(secretFreshness, ctx)).toMatchObject({ status: 'PASS' });
    utimesSync(join(ctx.home.secretsDir, 'secretStoreKek'), daysAgo(400), daysAgo(400));
    rmSync(join(ctx.home.secretsDir, 'streamsHmacKey'));
    const r = await run(secretFreshness, ctx);
    expect(r).toMatchObject({ status: 'FAIL', reason: 'secrets/secretStoreKek is 400 days old (limit SECRET_MAX_AGE_DAYS=365); secrets/streamsHmacKey is missing' });
    expect(JSON.stringify(r)).not.toContain('secretStoreKek-value');
  });

  it('secret-freshness follows SECRET_MAX_AGE_DAYS from caracal.env', async () => {
    const ctx = home(TEMPLATE, TEMPLATE.replace('SECRET_MAX_AGE_DAYS=365', 'SECRET_MAX_AGE_DAYS=30'));
    utimesSync(join(ctx.home.secretsDir, 'auditHmacKey'), daysAgo(31), daysAgo(31));
    expect(await run(secretFreshness, ctx)).toMatchObject({ status: 'FAIL', reason: 'secrets/auditHmacKey is 31 days old (limit SECRET_MAX_AGE_DAYS=30)' });
  });
});

describe('caracal.env secret scan', () => {
  const secrets = new Map([
    ['metricsBearer', SECRET],
    ['redisUrl', 'redis://:pw@127.0.0.1:1/0'],
    ['tiny', 'abc'],
  ]);

  it('the settings template holds no secret (its KEY_ and SECRET_ settings are not secret names)', () => {
    expect(envFileSecrets(TEMPLATE, secrets)).toEqual([]);
  });

  it('names the line and key of a secret value (also inside a longer value or a comment), a secret key name and a URL with credentials', () => {
    const text = [
      'CARACAL_MODE=stable',
      `CARACAL_LOG_LEVEL=x${SECRET}y`,
      `# old bearer: ${SECRET}`,
      'AUDIT_HMAC_KEY=',
      '# METRICS_BEARER=later',
      'CARACAL_ISSUER_URL=https://user:pw@sts.example',
      'REDIS_URL_FILE=/run/secrets/redis',
      'abc',
    ].join('\n');
    const findings = envFileSecrets(text, secrets);
    expect(findings).toEqual([
      { line: 2, key: 'CARACAL_LOG_LEVEL', why: 'the value of secrets/metricsBearer' },
      { line: 3, key: null, why: 'the value of secrets/metricsBearer' },
      { line: 4, key: 'AUDIT_HMAC_KEY', why: 'a secret key name' },
      { line: 5, key: 'METRICS_BEARER', why: 'a secret key name' },
      { line: 6, key: 'CARACAL_ISSUER_URL', why: 'a URL with credentials' },
    ]);
    expect(JSON.stringify(findings)).not.toContain(SECRET);
  });

  it('a secret file name is a secret key in its variable spelling; *_FILE keys are paths', () => {
    expect(envNameOf('secretStoreKek')).toBe('SECRET_STORE_KEK');
    expect(isSecretKey('REDIS_URL', ['redisUrl'])).toBe(true);
    expect(isSecretKey('POSTGRES_PASSWORD_FILE', [])).toBe(false);
    for (const k of ['KEY_MAX_AGE_DAYS', 'SECRET_MAX_AGE_DAYS', 'CARACAL_REDIS_KEY_PREFIX', 'CARACAL_API_PORT']) expect(isSecretKey(k, ['redisUrl']), k).toBe(false);
    for (const k of ['DB_PASSWORD', 'GITHUB_TOKEN', 'CLIENT_SECRET', 'SIGNING_KEY', 'SECRET_STORE_KEK', 'X_APIKEY']) expect(isSecretKey(k, []), k).toBe(true);
  });

  it('config-env-file: PASS on a fresh home; a 0644 file and a pasted secret FAIL by line and key, never the value', async () => {
    const ctx = home();
    expect(await run(configEnvFile, ctx)).toMatchObject({ status: 'PASS' });
    writeFileSync(ctx.home.envFile, `${TEMPLATE}# METRICS=${SECRET}\n`);
    chmodSync(ctx.home.envFile, 0o644);
    const r = await run(configEnvFile, ctx);
    const line = TEMPLATE.split('\n').length;
    expect(r).toMatchObject({ status: 'FAIL', reason: `${ctx.home.envFile} is mode 0644, not 0600; ${ctx.home.envFile} line ${line} (METRICS) holds the value of secrets/metricsBearer` });
    expect(JSON.stringify(r)).not.toContain(SECRET);
  });
});

describe('config-mode', () => {
  it('PASS in stable mode, FAIL naming CARACAL_MODE=dev', async () => {
    expect(await run(configMode, home())).toMatchObject({ status: 'PASS', reason: 'CARACAL_MODE=stable' });
    expect(await run(configMode, home(TEMPLATE, TEMPLATE.replace('CARACAL_MODE=stable', 'CARACAL_MODE=dev')))).toMatchObject({ status: 'FAIL', reason: expect.stringMatching(/^CARACAL_MODE=dev in /) });
  });
});

describe('threat model', () => {
  const full = THREAT_IDS.map((id) => `## ${id} a threat`).join('\n');

  it('finds each id on its lines, as a whole id', () => {
    expect(threatLines('TH-01 and TH-011\nTH-02')).toMatchObject({ 'TH-01': [1], 'TH-02': [2], 'TH-11': [] });
  });

  it('PASS when present and complete; FAIL naming the path when missing, empty or short of an id', async () => {
    const ctx = home();
    const path = join(ctx.root, 'governance', 'THREAT_MODEL.md');
    expect(await run(threatModel, ctx)).toMatchObject({ status: 'FAIL', reason: `${path} is missing: the pack carries no threat model` });
    writeFileSync(path, '');
    expect(await run(threatModel, ctx)).toMatchObject({ status: 'FAIL', reason: `${path} is empty` });
    writeFileSync(path, full.replace('TH-07', 'TH-7'));
    expect(await run(threatModel, ctx)).toMatchObject({ status: 'FAIL', reason: `${path} does not name TH-07` });
    writeFileSync(path, full);
    expect(await run(threatModel, ctx)).toMatchObject({ status: 'PASS' });
  });
});

describe('release provenance', () => {
  it('tells an installation, a staged upgrade, an installer layout without its receipt and a checkout apart', () => {
    const at = (rel: string, file?: string) => {
      const dir = join(tmp, rel);
      mkdirSync(dir, { recursive: true });
      if (file) writeFileSync(join(dir, file), '');
      return dir;
    };
    expect(rootKind(at('p/lib/caracal/1.0.0', 'INSTALL-RECEIPT'))).toBe('installed');
    expect(rootKind(at('h/versions/1.1.0', '.caracal-staged.json'))).toBe('staged');
    expect(rootKind(at('q/lib/caracal/1.0.0'))).toBe('receipt-missing');
    expect(rootKind(at('src/caracal'))).toBe('checkout');
  });

  it('SKIPPED from a checkout with the reason; FAIL naming the receipt of an installer layout without one', async () => {
    const ctx = home();
    expect(await run(releaseProvenance, ctx)).toMatchObject({ status: 'SKIPPED', reason: expect.stringContaining('running from a checkout') });
    const root = join(tmp, 'p', 'lib', 'caracal', '1.0.0');
    mkdirSync(root, { recursive: true });
    expect(await run(releaseProvenance, { ...ctx, root })).toMatchObject({ status: 'FAIL', reason: `${join(root, 'INSTALL-RECEIPT')} is missing from an installed release: its files cannot be verified` });
  });
  it('an installation: verified in-process against its receipt; an altered or added file FAILs naming it', async () => {
    const ctx = home();
    const root = join(tmp, 'p', 'lib', 'caracal', '1.0.0');
    mkdirSync(join(root, 'bin'), { recursive: true });
    writeFileSync(join(root, 'bin', 'caracal.js'), 'console.log(1)\n');
    const digest = createHash('sha256').update('console.log(1)\n').digest('hex');
    writeFileSync(join(root, 'INSTALL-RECEIPT'), `# caracal install receipt\n${digest}  lib/caracal/1.0.0/bin/caracal.js\nself  lib/caracal/1.0.0/INSTALL-RECEIPT\n`);
    const ok = await run(releaseProvenance, { ...ctx, root });
    expect(ok).toMatchObject({ status: 'PASS', reason: expect.stringContaining('1 files match') });
    expect(ok.raw.map((r) => r.command)).toEqual([`caracal verify-release --installed (in-process, install root ${root})`]);
    writeFileSync(join(root, 'bin', 'caracal.js'), 'console.log(2)\n');
    expect(await run(releaseProvenance, { ...ctx, root })).toMatchObject({ status: 'FAIL', reason: 'installed-files failed on lib/caracal/1.0.0/bin/caracal.js: lib/caracal/1.0.0/bin/caracal.js does not match its digest in INSTALL-RECEIPT' });
    writeFileSync(join(root, 'bin', 'caracal.js'), 'console.log(1)\n');
    writeFileSync(join(root, 'bin', 'extra.js'), '');
    expect(await run(releaseProvenance, { ...ctx, root })).toMatchObject({ status: 'FAIL', reason: expect.stringMatching(/^unlisted-files failed on lib\/caracal\/1.0.0\/bin\/extra.js/) });
  });
});

describe('readiness answers', () => {
  const answer = (status: number | null, body: unknown, error: string | null = null) => ({ status, body, headers: {}, error });

  it('ready only with 200, ready: true and its own name', () => {
    expect(notReady('api', answer(200, { ok: true, ready: true, service: 'api' }))).toBeUndefined();
    expect(notReady('api', answer(null, null, 'not_listening'))).toBe('api did not answer /ready (not_listening)');
    expect(notReady('sts', answer(503, { ready: false, service: 'sts', reason: 'database_unavailable' }))).toBe('sts is not ready (HTTP 503, database_unavailable)');
    expect(notReady('gateway', answer(200, { ready: true, service: 'api' }))).toBe('gateway port answered /ready as "api"');
    expect(notReady('audit', answer(200, 'ok'))).toBe('audit port answered /ready as null');
  });
});

describe('config-redis', () => {
  const refuse = async () => {
    throw new Error("ERR unknown command 'CONFIG'");
  };
  const info: Record<string, string> = { memory: '# Memory\r\nmaxmemory_policy:noeviction\r\n', persistence: '# Persistence\r\naof_enabled:1\r\n' };
  const redis = (call: (...a: string[]) => Promise<unknown>) => ({ ok: true as const, value: { call } as never });

  it('reads INFO fields', () => {
    expect(infoField(info.memory!, 'maxmemory_policy')).toBe('noeviction');
    expect(infoField(info.memory!, 'aof_enabled')).toBeNull();
  });

  it('CONFIG GET: PASS on noeviction + AOF, FAIL naming allkeys-lru', async () => {
    const ctx = home();
    const values: Record<string, string> = { 'maxmemory-policy': 'noeviction', appendonly: 'yes' };
    const config = async (_c: string, _g: string, name: string) => [name, values[name]];
    expect(await run(configRedis, { ...ctx, redis: redis(config as never) })).toMatchObject({ status: 'PASS' });
    values['maxmemory-policy'] = 'allkeys-lru';
    expect(await run(configRedis, { ...ctx, redis: redis(config as never) })).toMatchObject({ status: 'FAIL', reason: 'Redis maxmemory-policy is allkeys-lru, not noeviction' });
  });

  it('CONFIG refused: read through INFO; both refused: managed FAIL, external SKIPPED with the reason; unreachable SKIPPED', async () => {
    const ctx = home();
    const viaInfo = async (cmd: string, section: string) => (cmd === 'INFO' ? info[section] : refuse());
    expect(await run(configRedis, { ...ctx, redis: redis(viaInfo as never) })).toMatchObject({ status: 'PASS', reason: expect.stringContaining('read through INFO') });
    expect(await run(configRedis, { ...ctx, redis: redis(refuse) })).toMatchObject({ status: 'FAIL', reason: expect.stringMatching(/^managed Redis refuses CONFIG GET/) });
    const external = { ...ctx, settings: { ...ctx.settings, CARACAL_REDIS: 'external' as const }, redis: redis(refuse) };
    expect(await run(configRedis, external)).toMatchObject({ status: 'SKIPPED', reason: expect.stringMatching(/^external Redis refuses CONFIG GET .* confirm maxmemory-policy noeviction and AOF with its provider$/) });
    expect(await run(configRedis, ctx)).toMatchObject({ status: 'SKIPPED', reason: 'Redis unreachable: y' });
  });
});

describe('the checks list', () => {
  it('holds every check of R-EVD-1 once, in report order', () => {
    expect(CHECKS.map((c) => c.id)).toEqual([
      'release-provenance',
      'schema-rls',
      'schema-roles',
      'schema-audit-append-only',
      'schema-migrations',
      'schema-expand-contract',
      'zone-isolation-probe',
      'runtime-readiness',
      'audit-chains',
      'audit-continuity',
      'config-mode',
      'config-secret-files',
      'config-env-file',
      'config-redis',
      'config-metrics-auth',
      'key-freshness',
      'secret-freshness',
      'threat-model',
    ]);
  });
});
