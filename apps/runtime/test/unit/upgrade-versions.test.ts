// SemVer precedence for the downgrade guard, the Node range a release declares, the platform check, and
// runtime.json as the upgrade reads it (corrupt files refused, naming the file).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPlatform } from '../../src/upgrade/platform.js';
import { readRuntimeRecord } from '../../src/upgrade/runtime-state.js';
import { compareVersions, satisfiesRange } from '../../src/upgrade/versions.js';

describe('compareVersions', () => {
  it('orders by SemVer precedence', () => {
    const sorted = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '1.10.0', '2.0.0'];
    for (let i = 1; i < sorted.length; i++) {
      expect(compareVersions(sorted[i - 1]!, sorted[i]!), `${sorted[i - 1]} < ${sorted[i]}`).toBeLessThan(0);
      expect(compareVersions(sorted[i]!, sorted[i - 1]!)).toBeGreaterThan(0);
    }
    expect(compareVersions('0.2.0', '0.2.0')).toBe(0);
    expect(compareVersions('0.2.0+build.5', '0.2.0')).toBe(0);
  });

  it.each(['1.0', 'v1.0.0', '01.0.0', '1.0.0-', 'latest', ''])('throws on %j', (v) => {
    expect(() => compareVersions(v, '1.0.0')).toThrow('is not a version');
  });
});

describe('satisfiesRange', () => {
  it.each([
    ['20.19.0', '>=20.19', true],
    ['20.18.9', '>=20.19', false],
    ['22.1.0', '>=20.19 <23', true],
    ['24.0.0', '>=20.19 <23', false],
    ['20.19.0', '=20.19.0', true],
    ['20.19.1', '<=20.19.0', false],
  ])('%s in %s → %s', (v, range, want) => {
    expect(satisfiesRange(v, range)).toBe(want);
  });

  it('reads alternatives and refuses what it cannot read', () => {
    expect(satisfiesRange('18.20.0', '>=18.20 <19 || >=20.19')).toBe(true);
    expect(satisfiesRange('19.0.0', '>=18.20 <19 || >=20.19')).toBe(false);
    for (const bad of ['', '||', '~20', '^18', '>= 20', '20.x']) expect(() => satisfiesRange('20.19.0', bad)).toThrow('cannot read the range');
  });
});

describe('checkPlatform', () => {
  const host = { os: 'linux' as const, node: '20.19.2' };
  it('accepts a release for this OS and Node', () => {
    expect(() => checkPlatform({ platform: { os: ['linux', 'darwin'], node: '>=20.19' } }, '0.2.0', host)).not.toThrow();
  });
  it('refuses another OS, another Node, none or a malformed one, naming manifest.json and the version', () => {
    expect(() => checkPlatform({ platform: { os: ['win32'], node: '>=20.19' } }, '0.2.0', host)).toThrow('release 0.2.0 is built for win32 (manifest.json of release 0.2.0), not for this host (linux)');
    expect(() => checkPlatform({ platform: { os: ['linux'], node: '>=22' } }, '0.2.0', host)).toThrow('release 0.2.0 needs Node >=22 (manifest.json of release 0.2.0); this host runs Node 20.19.2');
    expect(() => checkPlatform({}, '0.2.0', host)).toThrow('manifest.json of release 0.2.0 declares no platform');
    expect(() => checkPlatform({ platform: { os: 'linux', node: '>=20' } }, '0.2.0', host)).toThrow('has a malformed platform');
    expect(() => checkPlatform({ platform: { os: ['linux'], node: 'latest' } }, '0.2.0', host)).toThrow('manifest.json of release 0.2.0: cannot read the range "latest"');
  });
});

describe('readRuntimeRecord', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'caracal-runtime-'));
    file = join(dir, 'runtime.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads version, updatedAt and an optional root', () => {
    writeFileSync(file, JSON.stringify({ version: '0.1.0', updatedAt: '2026-01-01T00:00:00.000Z' }));
    expect(readRuntimeRecord(file)).toEqual({ version: '0.1.0', updatedAt: '2026-01-01T00:00:00.000Z' });
    writeFileSync(file, JSON.stringify({ version: '0.2.0', updatedAt: '2026-01-01T00:00:00.000Z', root: '/h/versions/0.2.0' }));
    expect(readRuntimeRecord(file).root).toBe('/h/versions/0.2.0');
  });

  it.each([
    ['{"version":', 'is not JSON'],
    ['[1]', 'is not a JSON object'],
    ['{"updatedAt":"2026-01-01T00:00:00Z"}', 'has no valid "version" (undefined)'],
    ['{"version":"0.1","updatedAt":"2026-01-01T00:00:00Z"}', 'has no valid "version" ("0.1")'],
    ['{"version":"0.1.0","updatedAt":"yesterday"}', 'has no valid "updatedAt"'],
    ['{"version":"0.1.0","updatedAt":"2026-01-01T00:00:00Z","root":"versions/0.1.0"}', 'has a "root" that is not an absolute path'],
  ])('refuses %s, naming the file', (text, why) => {
    writeFileSync(file, text);
    expect(() => readRuntimeRecord(file)).toThrow(`${file} ${why}; the running version cannot be known, nothing was changed`);
  });

  it('a missing file means the stack never came up', () => {
    expect(() => readRuntimeRecord(file)).toThrow(`${file} is missing`);
  });
});
