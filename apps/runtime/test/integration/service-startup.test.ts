// Service processes refuse bad configuration at startup, naming the key or file, and shut down gracefully.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../../../test-support/cli.js';
import { createMigratedDatabase, type MigratedDatabase } from '../../../../test-support/db.js';
import { freePort } from '../../../../test-support/deps.js';
import { redisUrl, uniquePrefix } from '../../../../test-support/redis.js';

const hex = (n = 32) => randomBytes(n).toString('hex');
const entry = (s: string) => join(REPO, 'services', s, 'dist', 'main.js');

const NEEDS: Record<string, Record<string, string>> = {
  api: { SECRET_STORE_KEK: hex(), CARACAL_ADMIN_TOKEN: hex() },
  coordinator: { IDEMPOTENCY_HMAC_KEY: hex() },
  sts: { SECRET_STORE_KEK: hex(), GATEWAY_STS_HMAC_KEY: hex(), CARACAL_ISSUER_URL: 'http://127.0.0.1:8080' },
  gateway: { GATEWAY_STS_HMAC_KEY: hex(), CARACAL_STS_URL: 'http://127.0.0.1:8080', CARACAL_ISSUER_URL: 'http://127.0.0.1:8080' },
  audit: {},
};

describe('service startup', () => {
  let db: MigratedDatabase;
  let dir: string;
  const prefix = uniquePrefix('startup');
  const common = () => ({
    PATH: process.env.PATH!,
    CARACAL_MODE: 'stable',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl(),
    REDIS_KEY_PREFIX: prefix,
    STREAMS_HMAC_KEY: hex(),
    AUDIT_HMAC_KEY: hex(),
    METRICS_BEARER: hex(),
  });
  const run = (service: string, env: Record<string, string | undefined>, timeout = 15_000) =>
    execa(process.execPath, [entry(service)], { env, extendEnv: false, reject: false, timeout, stdin: 'ignore' });

  beforeAll(async () => {
    db = await createMigratedDatabase('startup');
    dir = mkdtempSync(join(tmpdir(), 'caracal-secrets-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  it.each(Object.keys(NEEDS))('%s refuses to start in stable mode without an HMAC key, naming the key', async (service) => {
    const env = { ...common(), ...NEEDS[service], PORT: String(await freePort()), DATABASE_URL: db.roleUrl(service as never), STREAMS_HMAC_KEY: undefined };
    const r = await run(service, env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${service}: invalid configuration`);
    expect(r.stderr).toContain('STREAMS_HMAC_KEY: is required in stable mode (set STREAMS_HMAC_KEY_FILE)');
  });

  it('lists every missing stable-mode requirement at once', async () => {
    const r = await run('sts', { PATH: process.env.PATH!, CARACAL_MODE: 'stable', DATABASE_URL: 'mysql://x', REDIS_URL: redisUrl() });
    expect(r.exitCode).toBe(1);
    for (const key of ['DATABASE_URL: must be a postgres:// URL', 'STREAMS_HMAC_KEY', 'AUDIT_HMAC_KEY', 'METRICS_BEARER', 'SECRET_STORE_KEK', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ISSUER_URL: is required']) {
      expect(r.stderr).toContain(key);
    }
  });

  describe('secret files', () => {
    const base = async () => ({ ...common(), ...NEEDS.gateway, PORT: String(await freePort()), DATABASE_URL: db.roleUrl('gateway'), STREAMS_HMAC_KEY: undefined });

    it('an unreadable (missing) file is refused and named', async () => {
      const path = join(dir, 'does-not-exist');
      const r = await run('gateway', { ...(await base()), STREAMS_HMAC_KEY_FILE: path });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`STREAMS_HMAC_KEY_FILE: ${path} cannot be read (no such file)`);
    });

    it('an empty file is refused and named', async () => {
      const path = join(dir, 'empty');
      writeFileSync(path, '', { mode: 0o444 });
      const r = await run('gateway', { ...(await base()), STREAMS_HMAC_KEY_FILE: path });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`STREAMS_HMAC_KEY_FILE: ${path} is empty`);
    });

    it('a world-writable file is refused and named, without echoing its content', async () => {
      const path = join(dir, 'writable');
      const value = hex();
      writeFileSync(path, value);
      chmodSync(path, 0o666);
      const r = await run('gateway', { ...(await base()), STREAMS_HMAC_KEY_FILE: path });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`${path} is world-writable (mode 666)`);
      expect(r.stderr + r.stdout).not.toContain(value);
    });

    it('a corrupt (non-hex) secret is refused, naming the file and not the value', async () => {
      const path = join(dir, 'corrupt');
      writeFileSync(path, 'NOT-HEX-not-hex-zzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zzzz', { mode: 0o444 });
      const r = await run('gateway', { ...(await base()), STREAMS_HMAC_KEY_FILE: path });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`STREAMS_HMAC_KEY (from ${path}): must be lowercase hex`);
      expect(r.stderr).not.toContain('NOT-HEX');
    });

    it('both X and X_FILE set is refused', async () => {
      const path = join(dir, 'ok');
      writeFileSync(path, hex(), { mode: 0o444 });
      const r = await run('gateway', { ...(await base()), STREAMS_HMAC_KEY: hex(), STREAMS_HMAC_KEY_FILE: path });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('STREAMS_HMAC_KEY and STREAMS_HMAC_KEY_FILE are both set');
    });
  });

  it('refuses a plain-http remote service URL in stable mode', async () => {
    const env = { ...common(), ...NEEDS.gateway, PORT: String(await freePort()), DATABASE_URL: db.roleUrl('gateway'), CARACAL_STS_URL: 'http://sts.example.com' };
    const r = await run('gateway', env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('CARACAL_STS_URL: plain http is only allowed to a loopback address in stable mode');
  });

  it('names the port when it is already in use', async () => {
    const port = await freePort();
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const r = await run('audit', { ...common(), PORT: String(port), DATABASE_URL: db.roleUrl('audit') });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`audit: port ${port} on 127.0.0.1 is already in use`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('serves, logs no secret, and exits 0 after a graceful SIGTERM; dev mode warns loudly', async () => {
    const port = await freePort();
    const env = { ...common(), ...NEEDS.api, CARACAL_MODE: 'dev', PORT: String(port), DATABASE_URL: db.roleUrl('api') };
    const child = run('api', env, 30_000);
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await fetch(`http://127.0.0.1:${port}/ready`).then((res) => res.ok, () => false);
    }
    expect(ready).toBe(true);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('CARACAL_MODE=dev');
    expect(r.stdout).toContain('"msg":"stopped"');
    const password = new URL(db.roleUrl('api')).password;
    for (const secret of [password, env.STREAMS_HMAC_KEY, env.AUDIT_HMAC_KEY, env.METRICS_BEARER, NEEDS.api!.SECRET_STORE_KEK!, NEEDS.api!.CARACAL_ADMIN_TOKEN!]) {
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });
});
