// parseConfig + resolveFileVars: X_FILE resolution, both-set refusal, every problem at once, secrets never echoed.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { hexKey, logLevel, mode, port } from '../../src/fields.js';
import { parseConfig } from '../../src/parse-config.js';
import { resolveFileVars, type Env } from '../../src/resolve-file-vars.js';

const GOOD_KEY = 'ab'.repeat(32);
// Recognisable, so a leak into any message is unmistakable.
const SECRET = 'S3CRET-canary-deadbeef';
// Long enough to pass the length rule, so the only complaint is that it is not hex.
const NON_HEX = `${SECRET}${'0'.repeat(64)}`;

const schema = z.object({
  CARACAL_MODE: mode,
  PORT: port(3000),
  LOG_LEVEL: logLevel,
  DATABASE_URL: z.string({ required_error: 'is required' }).refine((v) => v.startsWith('postgres://'), 'must be a postgres:// URL'),
  AUDIT_HMAC_KEY: hexKey(32),
  STREAMS_HMAC_KEY: hexKey(32).optional(),
});
const fileKeys = ['DATABASE_URL', 'AUDIT_HMAC_KEY', 'STREAMS_HMAC_KEY'];
const base: Env = { DATABASE_URL: 'postgres://db/x', AUDIT_HMAC_KEY: GOOD_KEY };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string, fileMode = 0o400): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, fileMode);
  return path;
}

/** Runs parseConfig, expecting a ConfigError, and returns it. */
function refused(env: Env, refine?: Parameters<typeof parseConfig>[2]['refine']): ConfigError {
  try {
    parseConfig(schema, env, refine ? { fileKeys, refine } : { fileKeys });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function expectNoLeak(err: ConfigError, secret: string): void {
  expect(err.message).not.toContain(secret);
  expect(err.problems.join('\n')).not.toContain(secret);
  expect(String(err.stack)).not.toContain(secret);
}

describe('parseConfig: X_FILE', () => {
  it('resolves X from X_FILE and applies defaults', () => {
    const keyFile = file('audit', `${GOOD_KEY}\n`);
    const cfg = parseConfig(schema, { DATABASE_URL: 'postgres://db/x', AUDIT_HMAC_KEY_FILE: keyFile }, { fileKeys });
    expect(cfg).toEqual({ CARACAL_MODE: 'stable', PORT: 3000, LOG_LEVEL: 'info', DATABASE_URL: 'postgres://db/x', AUDIT_HMAC_KEY: GOOD_KEY });
  });

  it('records the source file and drops the _FILE key from the resolved environment', () => {
    const keyFile = file('audit', GOOD_KEY);
    const r = resolveFileVars({ AUDIT_HMAC_KEY_FILE: keyFile, OTHER: 'kept' }, ['AUDIT_HMAC_KEY']);
    expect(r).toMatchObject({ env: { AUDIT_HMAC_KEY: GOOD_KEY, OTHER: 'kept' }, sources: { AUDIT_HMAC_KEY: keyFile }, problems: [] });
    expect(r.env).not.toHaveProperty('AUDIT_HMAC_KEY_FILE');
  });

  it('does not resolve _FILE for keys that are not declared file keys', () => {
    const keyFile = file('other', GOOD_KEY);
    const r = resolveFileVars({ LOG_LEVEL_FILE: keyFile }, ['AUDIT_HMAC_KEY']);
    expect(r.env).toEqual({ LOG_LEVEL_FILE: keyFile });
  });

  it('treats an empty X_FILE as unset', () => {
    const cfg = parseConfig(schema, { ...base, AUDIT_HMAC_KEY_FILE: '' }, { fileKeys });
    expect(cfg.AUDIT_HMAC_KEY).toBe(GOOD_KEY);
  });

  it('refuses X and X_FILE both set, once, without echoing the direct value', () => {
    const keyFile = file('audit', GOOD_KEY);
    const err = refused({ ...base, AUDIT_HMAC_KEY: SECRET, AUDIT_HMAC_KEY_FILE: keyFile });
    expect(err.problems).toEqual(['AUDIT_HMAC_KEY and AUDIT_HMAC_KEY_FILE are both set; set only one']);
    expectNoLeak(err, SECRET);
  });

  it('reports a missing file by key and path, and not again as "is required"', () => {
    const path = join(dir, 'missing');
    const err = refused({ DATABASE_URL: 'postgres://db/x', AUDIT_HMAC_KEY_FILE: path });
    expect(err.problems).toEqual([`AUDIT_HMAC_KEY_FILE: ${path} cannot be read (no such file)`]);
  });

  it('reports a directory given as a file by key and path', () => {
    const path = join(dir, 'sub');
    mkdirSync(path);
    expect(refused({ ...base, STREAMS_HMAC_KEY_FILE: path }).problems).toEqual([`STREAMS_HMAC_KEY_FILE: ${path} is not a regular file`]);
  });

  it('reports an empty file by key and path', () => {
    const path = file('empty', '');
    expect(refused({ ...base, STREAMS_HMAC_KEY_FILE: path }).problems).toEqual([`STREAMS_HMAC_KEY_FILE: ${path} is empty`]);
  });

  it('refuses a world-writable file, names it, and never shows its content', () => {
    const path = file('ww', SECRET, 0o666);
    const err = refused({ ...base, STREAMS_HMAC_KEY_FILE: path });
    expect(err.problems).toEqual([`STREAMS_HMAC_KEY_FILE: ${path} is world-writable (mode 666)`]);
    expectNoLeak(err, SECRET);
  });

  it('reports a file value failing the schema as "KEY (from /path)" without the value', () => {
    const path = file('bad', `${NON_HEX}\n`);
    const err = refused({ ...base, STREAMS_HMAC_KEY_FILE: path });
    expect(err.problems).toEqual([`STREAMS_HMAC_KEY (from ${path}): must be lowercase hex`]);
    expectNoLeak(err, SECRET);
  });

  it('reports a too-short hex key from a file without the value', () => {
    const shortHex = 'c0ffee'.repeat(5);
    const path = file('short', shortHex);
    const err = refused({ ...base, STREAMS_HMAC_KEY_FILE: path });
    expect(err.problems).toEqual([`STREAMS_HMAC_KEY (from ${path}): must be at least 32 bytes of hex`]);
    expectNoLeak(err, shortHex);
  });

  it('refuses a multi-line file without showing either line', () => {
    const path = file('multi', `${GOOD_KEY}\n${SECRET}\n`);
    const err = refused({ ...base, STREAMS_HMAC_KEY_FILE: path });
    expect(err.problems).toEqual([`STREAMS_HMAC_KEY_FILE: ${path} holds more than one line`]);
    expectNoLeak(err, SECRET);
    expectNoLeak(err, GOOD_KEY);
  });
});

describe('parseConfig: every problem at once', () => {
  it('lists file, conflict, schema and refine problems together in one ConfigError', () => {
    const missing = join(dir, 'gone');
    const badHex = file('bad', NON_HEX);
    const both = file('both', GOOD_KEY);
    const err = refused(
      {
        CARACAL_MODE: 'prod',
        PORT: '70000',
        DATABASE_URL_FILE: missing,
        AUDIT_HMAC_KEY: GOOD_KEY,
        AUDIT_HMAC_KEY_FILE: both,
        STREAMS_HMAC_KEY_FILE: badHex,
      },
      () => ['EXTRA: cross-field rule failed'],
    );
    expect(err.problems).toEqual([
      `DATABASE_URL_FILE: ${missing} cannot be read (no such file)`,
      'AUDIT_HMAC_KEY and AUDIT_HMAC_KEY_FILE are both set; set only one',
      'CARACAL_MODE: must be dev or stable',
      'PORT: must be between 1 and 65535',
      `STREAMS_HMAC_KEY (from ${badHex}): must be lowercase hex`,
      'EXTRA: cross-field rule failed',
    ]);
    expect(err.code).toBe('CARACAL_CONFIG_INVALID');
    expect(err.message).toBe(`invalid configuration:\n${err.problems.map((p) => `  - ${p}`).join('\n')}`);
    expectNoLeak(err, SECRET);
  });

  it('reports required keys that are absent, each by name', () => {
    expect(refused({}).problems).toEqual(['DATABASE_URL: is required', 'AUDIT_HMAC_KEY: is required']);
  });

  it('calls refine with undefined config when the schema failed, so its problems still surface', () => {
    const refine = vi.fn((_config: unknown, _env: unknown) => ['MODE: refine problem']);
    const err = refused({ PORT: 'abc' }, refine);
    expect(refine).toHaveBeenCalledTimes(1);
    expect(refine.mock.calls[0]).toEqual([undefined, expect.objectContaining({ PORT: 'abc' })]);
    expect(err.problems).toContain('MODE: refine problem');
    expect(err.problems).toContain('PORT: must be a port number');
  });

  it('hands refine the parsed config when the schema passed', () => {
    const refine = vi.fn((_config: unknown, _env: unknown) => ['X: no']);
    refused(base, refine);
    expect(refine.mock.calls[0]?.[0]).toMatchObject({ AUDIT_HMAC_KEY: GOOD_KEY, PORT: 3000 });
  });

  it('drops refine problems about a key whose file already failed (reported once, not twice)', () => {
    const missing = join(dir, 'gone');
    const err = refused({ ...base, STREAMS_HMAC_KEY_FILE: missing }, () => ['STREAMS_HMAC_KEY: is required in stable mode']);
    expect(err.problems).toEqual([`STREAMS_HMAC_KEY_FILE: ${missing} cannot be read (no such file)`]);
  });
});
