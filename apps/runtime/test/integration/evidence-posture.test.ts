// The provenance, runtime, configuration, key and governance checks against one managed stack through the real CLI:
// all PASS when healthy (release provenance SKIPPED from a checkout) with no secret value anywhere in the pack; then
// one thing broken at a time — a secret file chmod 0644, Redis evicting, a service stopped, a signing key past the
// limit, a secret pasted into caracal.env, no threat model — FAILs the matching check naming it, and restoring it
// brings the PASS back.
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery } from '../../../../test-support/db.js';
import { startEvidenceStack, type EvidenceStack } from '../../../../test-support/evidence-stack.js';

interface Summary {
  path: string;
  exit: number;
  checks: Array<{ id: string; status: string; reason: string }>;
}

const POSTURE = ['runtime-readiness', 'config-mode', 'config-secret-files', 'config-env-file', 'config-redis', 'config-metrics-auth', 'key-freshness', 'secret-freshness', 'threat-model'];

describe('evidence pack: posture checks on a managed stack', () => {
  let stack: EvidenceStack;
  let redis: Redis;
  let packs = 0;

  beforeAll(async () => {
    stack = await startEvidenceStack('posture');
    redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1 });
    // A zone with an active signing key, so key-freshness has a key to judge.
    for (const args of [['zone', 'create', 'acme', '--name', 'Acme'], ['zone', 'rotate-key', 'acme']]) {
      const r = await stack.cli(args);
      expect(r.exitCode, r.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  async function pack(extraEnv: Record<string, string> = {}) {
    const out = join(stack.scratch, `pack-${++packs}`);
    const r = await stack.cli(['evidence-pack', '--out', out, '--json'], extraEnv);
    expect([0, 1], r.stderr).toContain(r.exitCode);
    const summary = JSON.parse(r.stdout) as Summary;
    expect(summary.exit).toBe(r.exitCode);
    return { ...summary, byId: Object.fromEntries(summary.checks.map((c) => [c.id, c])) };
  }

  /** The pack FAILs `id` with a reason matching `reason`, and exits 1. */
  async function expectFail(id: string, reason: RegExp | string) {
    const p = await pack();
    expect(p.byId[id], JSON.stringify(p.checks)).toMatchObject({ status: 'FAIL', reason: typeof reason === 'string' ? expect.stringContaining(reason) : expect.stringMatching(reason) });
    expect(p.exit).toBe(1);
    return p;
  }

  async function expectPass(id: string) {
    expect((await pack()).byId[id]).toMatchObject({ status: 'PASS' });
  }

  it('healthy: every posture check PASSes, release provenance is SKIPPED from a checkout, exit 0, no secret in the pack', async () => {
    const p = await pack();
    expect(p.byId['release-provenance']).toMatchObject({ status: 'SKIPPED', reason: expect.stringContaining('running from a checkout') });
    for (const id of POSTURE) expect(p.byId[id], id).toMatchObject({ status: 'PASS' });
    expect(p.exit).toBe(0);
    expect(p.byId['key-freshness']!.reason).toContain('1 active signing key(s)');
    expect(p.byId['runtime-readiness']!.reason).toContain('all 5 services ready');
    const files = readdirSync(p.path, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    const text = files.map((e) => readFileSync(join(e.parentPath, e.name), 'utf8')).join('\n');
    expect(text).toContain('GET http://127.0.0.1:'); // the raw outputs are there
    const secretsDir = join(stack.home, 'secrets');
    for (const name of readdirSync(secretsDir)) expect(text.includes(readFileSync(join(secretsDir, name), 'utf8').trim()), `secrets/${name} leaked into the pack`).toBe(false);
  });

  it('healthy, whole pack: every check PASSes but the two that cannot apply; verify passes on the directory and the archive; --previous extends it', async () => {
    const first = await pack();
    const notPass = first.checks.filter((c) => c.status !== 'PASS').map((c) => `${c.id} ${c.status}`);
    expect(notPass).toEqual(['release-provenance SKIPPED', 'audit-continuity SKIPPED']);
    expect(first.byId['audit-continuity']!.reason).toMatch(/--previous/);
    for (const target of [first.path, `${first.path}.tar.gz`]) {
      const v = await stack.cli(['evidence-pack', 'verify', target, '--key', join(first.path, 'evidence-key.pub.pem')]);
      expect(v.exitCode, `${target}: ${v.stdout}${v.stderr}`).toBe(0);
      expect(v.stdout).toContain('evidence pack verified');
    }
    const out = join(stack.scratch, `pack-${++packs}`);
    const second = await stack.cli(['evidence-pack', '--out', out, '--previous', `${first.path}.tar.gz`, '--json']);
    expect(second.exitCode, second.stderr).toBe(0);
    const continuity = (JSON.parse(second.stdout) as Summary).checks.find((c) => c.id === 'audit-continuity');
    expect(continuity).toMatchObject({ status: 'PASS' });
  });

  it('a secret file chmod 0644: config-secret-files FAILs naming the file and its mode', async () => {
    const file = join(stack.home, 'secrets', 'auditHmacKey');
    chmodSync(file, 0o644);
    try {
      await expectFail('config-secret-files', `${file} is mode 0644, not 0444`);
    } finally {
      chmodSync(file, 0o444);
    }
    await expectPass('config-secret-files');
  });

  it('Redis maxmemory-policy allkeys-lru: config-redis FAILs naming the setting', async () => {
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      await expectFail('config-redis', 'Redis maxmemory-policy is allkeys-lru, not noeviction');
    } finally {
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
    }
    await expectPass('config-redis');
  });

  it('a service stopped: runtime-readiness FAILs naming it', async () => {
    // SIGSTOP holds the gateway's workers alive but silent: the supervisor sees no exit and restarts nothing, so the
    // service stays stopped until SIGCONT, and its port (still bound) times out like a hung service.
    const state = JSON.parse(readFileSync(join(stack.home, 'data', 'supervisor.json'), 'utf8')) as { services: Record<string, { workers: Array<{ pid: number | null }> }> };
    const pids = state.services.gateway!.workers.map((w) => w.pid).filter((p): p is number => p !== null);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      const p = await expectFail('runtime-readiness', 'gateway did not answer /ready (timeout)');
      expect(p.byId['runtime-readiness']!.reason).not.toMatch(/\b(api|coordinator|sts|audit)\b/);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    await expectPass('runtime-readiness');
  });

  it('a signing key older than KEY_MAX_AGE_DAYS: key-freshness FAILs naming the zone, the kid and the age', async () => {
    const key = (await adminQuery<{ kid: string; created_at: Date }>(stack.databaseUrl, "SELECT k.kid, k.created_at FROM caracal.signing_keys k JOIN caracal.zones z ON z.id = k.zone_id WHERE z.slug = 'acme' AND k.status = 'active'")).rows[0]!;
    await adminQuery(stack.databaseUrl, "UPDATE caracal.signing_keys SET created_at = now() - interval '91 days' WHERE kid = $1", [key.kid]);
    try {
      await expectFail('key-freshness', `zone acme key ${key.kid} is 91 days old (limit KEY_MAX_AGE_DAYS=90)`);
    } finally {
      await adminQuery(stack.databaseUrl, 'UPDATE caracal.signing_keys SET created_at = $2 WHERE kid = $1', [key.kid, key.created_at]);
    }
    await expectPass('key-freshness');
  });

  it('a secret pasted into caracal.env: config-env-file FAILs naming the line, not the value', async () => {
    const envFile = join(stack.home, 'caracal.env');
    const original = readFileSync(envFile, 'utf8');
    const bearer = readFileSync(join(stack.home, 'secrets', 'metricsBearer'), 'utf8').trim();
    writeFileSync(envFile, `${original}# metrics: ${bearer}\n`);
    try {
      const p = await expectFail('config-env-file', `${envFile} line ${original.split('\n').length} holds the value of secrets/metricsBearer`);
      expect(JSON.stringify(p)).not.toContain(bearer);
    } finally {
      writeFileSync(envFile, original);
    }
    await expectPass('config-env-file');
  });

  it('no threat model in the install root: threat-model FAILs naming the path and the pack still builds without it', async () => {
    const root = join(stack.scratch, 'bare-root');
    mkdirSync(root, { recursive: true });
    const p = await pack({ CARACAL_INSTALL_ROOT: root });
    expect(p.byId['threat-model']).toMatchObject({ status: 'FAIL', reason: `${join(root, 'governance', 'THREAT_MODEL.md')} is missing: the pack carries no threat model` });
    expect(p.exit).toBe(1);
    expect(readdirSync(p.path)).not.toContain('THREAT_MODEL.md');
    expect(readFileSync(join(p.path, 'REPORT.md'), 'utf8')).toContain('| Threat model | not present in the install root |');
  });
});
