// loadServiceConfig (R-MODE-1, R-SHAPE-4): stable fails closed naming keys, dev relaxes, all problems at once.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { baseSchema, isLoopbackHttpOrHttps, loadServiceConfig } from '../../src/service-config.js';
import { HEX32, problems, spec, STABLE } from './config-fixtures.js';


let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('loadServiceConfig', () => {
  it('accepts a complete stable configuration', () => {
    const cfg = loadServiceConfig(spec, STABLE);
    expect(cfg).toMatchObject({ CARACAL_MODE: 'stable', PORT: 3000, HOST: '127.0.0.1', STREAMS_HMAC_KEY: HEX32 });
  });

  it('bounds every query and Redis command at 2 s by default, configurable (§15 bounded waits)', () => {
    expect(loadServiceConfig(spec, STABLE)).toMatchObject({ PG_QUERY_TIMEOUT_MS: 2000, REDIS_COMMAND_TIMEOUT_MS: 2000 });
    expect(loadServiceConfig(spec, { ...STABLE, PG_QUERY_TIMEOUT_MS: '750', REDIS_COMMAND_TIMEOUT_MS: '5000' })).toMatchObject({ PG_QUERY_TIMEOUT_MS: 750, REDIS_COMMAND_TIMEOUT_MS: 5000 });
    expect(problems({ ...STABLE, PG_QUERY_TIMEOUT_MS: '0', REDIS_COMMAND_TIMEOUT_MS: '150.5' })).toEqual([
      'PG_QUERY_TIMEOUT_MS: must be at least 100',
      'REDIS_COMMAND_TIMEOUT_MS: must be an integer',
    ]);
  });

  it('drains for 2 s by default; takes an instance id and an inherited socket, naming each bad one', () => {
    expect(loadServiceConfig(spec, STABLE)).toMatchObject({ DRAIN_IDLE_MS: 2000, SHUTDOWN_GRACE_MS: 10_000 });
    expect(loadServiceConfig(spec, STABLE).CARACAL_INSTANCE_ID).toBeUndefined();
    expect(loadServiceConfig(spec, STABLE).CARACAL_LISTEN_FD).toBeUndefined();
    expect(loadServiceConfig(spec, { ...STABLE, DRAIN_IDLE_MS: '0', CARACAL_INSTANCE_ID: 'gateway-1.2.0-77-1', CARACAL_LISTEN_FD: '4' })).toMatchObject({
      DRAIN_IDLE_MS: 0,
      CARACAL_INSTANCE_ID: 'gateway-1.2.0-77-1',
      CARACAL_LISTEN_FD: 4,
    });
    expect(problems({ ...STABLE, DRAIN_IDLE_MS: '-1', CARACAL_INSTANCE_ID: 'a b', CARACAL_LISTEN_FD: '2' })).toEqual([
      'DRAIN_IDLE_MS: must be at least 0',
      'CARACAL_INSTANCE_ID: may only hold A-Z a-z 0-9 . _ : - (1 to 128 characters)',
      'CARACAL_LISTEN_FD: must be 3 or more (an inherited socket)',
    ]);
    expect(problems({ ...STABLE, CARACAL_INSTANCE_ID: 'handover', CARACAL_LISTEN_FD: 'four' })).toEqual([
      "CARACAL_INSTANCE_ID: 'handover' is reserved",
      'CARACAL_LISTEN_FD: must be a file descriptor number',
    ]);
  });

  it('names a missing STREAMS_HMAC_KEY in stable mode (the default mode)', () => {
    const { STREAMS_HMAC_KEY: _k, ...env } = STABLE;
    expect(problems(env)).toEqual(['STREAMS_HMAC_KEY: is required in stable mode (set STREAMS_HMAC_KEY_FILE)']);
    expect(problems({ ...env, CARACAL_MODE: 'stable' })).toEqual(['STREAMS_HMAC_KEY: is required in stable mode (set STREAMS_HMAC_KEY_FILE)']);
  });

  it('holds an invalid mode to the stable rules as well, reporting both', () => {
    const { STREAMS_HMAC_KEY: _k, ...env } = STABLE;
    const found = problems({ ...env, CARACAL_MODE: 'prod' });
    expect(found).toContain('STREAMS_HMAC_KEY: is required in stable mode (set STREAMS_HMAC_KEY_FILE)');
    expect(found.some((p) => p.startsWith('CARACAL_MODE: must be dev or stable'))).toBe(true);
  });

  it('treats an empty value as missing in stable mode', () => {
    expect(problems({ ...STABLE, METRICS_BEARER: '' })).toContain('METRICS_BEARER: is required in stable mode (set METRICS_BEARER_FILE)');
  });

  it('reads the stable-mode keys from files', () => {
    dir = mkdtempSync(join(tmpdir(), 'caracal-svc-'));
    const path = join(dir, 'streamsHmacKey');
    writeFileSync(path, HEX32);
    chmodSync(path, 0o444);
    const { STREAMS_HMAC_KEY: _k, ...env } = STABLE;
    expect(loadServiceConfig(spec, { ...env, STREAMS_HMAC_KEY_FILE: path }).STREAMS_HMAC_KEY).toBe(HEX32);
  });

  it('reports an unreadable key file once, not also as missing in stable mode', () => {
    const { STREAMS_HMAC_KEY: _k, ...env } = STABLE;
    expect(problems({ ...env, STREAMS_HMAC_KEY_FILE: '/nonexistent/streamsHmacKey' })).toEqual([
      'STREAMS_HMAC_KEY_FILE: /nonexistent/streamsHmacKey cannot be read (no such file)',
    ]);
  });

  it('has no JTI_FAIL_OPEN setting (nothing read it)', () => {
    expect(loadServiceConfig(spec, { ...STABLE, JTI_FAIL_OPEN: 'true' })).not.toHaveProperty('JTI_FAIL_OPEN');
  });

  it('allows missing HMAC keys and bearer in dev mode', () => {
    const cfg = loadServiceConfig(spec, { CARACAL_MODE: 'dev', DATABASE_URL: STABLE.DATABASE_URL, REDIS_URL: STABLE.REDIS_URL });
    expect(cfg).toMatchObject({ CARACAL_MODE: 'dev' });
    expect([cfg.STREAMS_HMAC_KEY, cfg.AUDIT_HMAC_KEY, cfg.METRICS_BEARER]).toEqual([undefined, undefined, undefined]);
  });

  it('still validates the HMAC keys that dev mode is given', () => {
    expect(problems({ ...STABLE, CARACAL_MODE: 'dev', STREAMS_HMAC_KEY: 'abcd' })).toEqual([
      'STREAMS_HMAC_KEY: must be at least 32 bytes of hex',
    ]);
  });

  it('reports a DATABASE_URL that is not postgres:// without echoing it (it holds a password)', () => {
    const url = 'mysql://svc:hunter2@db/caracal';
    const found = problems({ ...STABLE, DATABASE_URL: url });
    expect(found).toEqual(['DATABASE_URL: must be a postgres:// URL']);
    expect(found.join('\n')).not.toContain('hunter2');
  });

  it('reports every problem together', () => {
    const found = problems({
      CARACAL_MODE: 'stable',
      DATABASE_URL: 'http://db',
      PORT: '0',
      REDIS_KEY_PREFIX: 'bad prefix!',
      AUDIT_HMAC_KEY: 'NOT-HEX'.repeat(10),
    });
    expect(found).toEqual([
      'PORT: must be between 1 and 65535',
      'DATABASE_URL: must be a postgres:// URL',
      'REDIS_URL: is required',
      'REDIS_KEY_PREFIX: may only hold A-Z a-z 0-9 : . _ -',
      'AUDIT_HMAC_KEY: must be lowercase hex',
      'STREAMS_HMAC_KEY: is required in stable mode (set STREAMS_HMAC_KEY_FILE)',
      'METRICS_BEARER: is required in stable mode (set METRICS_BEARER_FILE)',
    ]);
  });

  it('requires the extra keys a service names for stable mode, hinting _FILE only for secrets', () => {
    const s = { schema: baseSchema(3000).extend({ SECRET_STORE_KEK: z.string().optional(), CARACAL_STS_URL: z.string().optional() }), stableRequired: ['SECRET_STORE_KEK', 'CARACAL_STS_URL'] };
    expect(problems(STABLE, s)).toEqual([
      'SECRET_STORE_KEK: is required in stable mode (set SECRET_STORE_KEK_FILE)',
      'CARACAL_STS_URL: is required in stable mode',
    ]);
    expect(() => loadServiceConfig(s, { ...STABLE, CARACAL_MODE: 'dev' })).not.toThrow();
  });

  it("runs the service's own refine only on a config that passed the schema, and reports its problems", () => {
    const refine = vi.fn(() => ['CARACAL_STS_URL: must be https in stable mode']);
    expect(problems(STABLE, { schema: baseSchema(3000), refine })).toEqual(['CARACAL_STS_URL: must be https in stable mode']);
    refine.mockClear();
    problems({ ...STABLE, PORT: 'x' }, { schema: baseSchema(3000), refine });
    expect(refine).not.toHaveBeenCalled();
  });
});

describe('isLoopbackHttpOrHttps (R-MODE-1)', () => {
  it.each(['https://sts.example.com/', 'http://127.0.0.1:8080/', 'http://localhost:8080', 'http://[::1]:8080/', 'http://127.0.0.2/', 'http://127.1/'])(
    'accepts %s',
    (url) => expect(isLoopbackHttpOrHttps(url)).toBe(true),
  );

  it.each([
    'http://sts.example.com/',
    'http://10.0.0.5:8080/',
    'http://0.0.0.0:8080/',
    // DNS names that merely start like a loopback address resolve wherever their owner wants.
    'http://127.0.0.1.nip.io/',
    'http://127.attacker.example/',
    'http://localhost.attacker.example/',
  ])('refuses plain http to %s', (url) => expect(isLoopbackHttpOrHttps(url)).toBe(false));
});
