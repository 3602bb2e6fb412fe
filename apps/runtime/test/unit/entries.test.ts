// Which file a service, the supervisor and the CLI start from: the bundle `pnpm run build` writes, unless the tree has none or tsc
// wrote main.js after it (then the bundle would run older code).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceEntry, supervisorArgs, supervisorEntry } from '../../src/version.js';
import { SUPERVISOR_NEEDLE } from '../../src/stack/supervisor-control.js';

const LAUNCHER = fileURLToPath(new URL('../../bin/caracal.js', import.meta.url));
// The launcher picks its entry with the compiled freshestEntry.
const VERSION_JS = fileURLToPath(new URL('../../dist/version.js', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-entries-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `file` with its modification time `secondsAgo` in the past. */
function put(file: string, text: string, secondsAgo: number) {
  writeFileSync(file, text);
  const t = Date.now() / 1000 - secondsAgo;
  utimesSync(file, t, t);
}

describe('serviceEntry', () => {
  it('takes the bundle when it is as new as main.js or newer, and main.js otherwise', () => {
    const d = join(dir, 'services', 'sts', 'dist');
    mkdirSync(d, { recursive: true });
    put(join(d, 'main.js'), '', 60);
    expect(serviceEntry(dir, 'sts')).toBe(join(d, 'main.js'));
    put(join(d, 'service.mjs'), '', 30);
    expect(serviceEntry(dir, 'sts')).toBe(join(d, 'service.mjs'));
    put(join(d, 'main.js'), '', 10); // tsc ran again, the bundle was not rebuilt
    expect(serviceEntry(dir, 'sts')).toBe(join(d, 'main.js'));
  });

  it('names main.js for a tree without the service, so the caller reports that file missing', () => {
    expect(serviceEntry(dir, 'gateway')).toBe(join(dir, 'services', 'gateway', 'dist', 'main.js'));
  });
});

describe('supervisorEntry', () => {
  it('takes dist/supervisor.mjs when it is as new as dist/supervisor/main.js or newer, and main.js otherwise', () => {
    const dist = join(dir, 'apps', 'runtime', 'dist');
    mkdirSync(join(dist, 'supervisor'), { recursive: true });
    put(join(dist, 'supervisor', 'main.js'), '', 60);
    expect(supervisorEntry(dir)).toBe(join(dist, 'supervisor', 'main.js'));
    put(join(dist, 'supervisor.mjs'), '', 30);
    expect(supervisorEntry(dir)).toBe(join(dist, 'supervisor.mjs'));
    put(join(dist, 'supervisor', 'main.js'), '', 10);
    expect(supervisorEntry(dir)).toBe(join(dist, 'supervisor', 'main.js'));
  });

  it('started from either entry, a supervisor is recognised by supervisor/main.js in its command line, as every release has looked for it', () => {
    const dist = join(dir, 'apps', 'runtime', 'dist');
    mkdirSync(join(dist, 'supervisor'), { recursive: true });
    put(join(dist, 'supervisor', 'main.js'), '', 60);
    expect(supervisorArgs(dir)).toEqual([join(dist, 'supervisor', 'main.js')]);
    put(join(dist, 'supervisor.mjs'), '', 30);
    // The bundle runs; the compiled entry's path is an argument it ignores.
    expect(supervisorArgs(dir)).toEqual([join(dist, 'supervisor.mjs'), join(dist, 'supervisor', 'main.js')]);
    expect(SUPERVISOR_NEEDLE).toBe(join('supervisor', 'main.js'));
    expect(supervisorArgs(dir).join(' ')).toContain(SUPERVISOR_NEEDLE);
    expect(join(dir, 'services', 'sts', 'dist', 'service.mjs')).not.toContain(SUPERVISOR_NEEDLE);
  });
});

describe('bin/caracal.js', () => {
  it('runs the bundle when it is fresh, and main.js when tsc wrote it later', () => {
    const bin = join(dir, 'apps', 'runtime', 'bin');
    const dist = join(dir, 'apps', 'runtime', 'dist');
    mkdirSync(bin, { recursive: true });
    mkdirSync(dist, { recursive: true });
    copyFileSync(LAUNCHER, join(bin, 'caracal.js'));
    copyFileSync(VERSION_JS, join(dist, 'version.js'));
    writeFileSync(join(dir, 'apps', 'runtime', 'package.json'), '{"type":"module"}');
    put(join(dist, 'main.js'), "console.log('main');", 60);
    const run = () => execFileSync(process.execPath, [join(bin, 'caracal.js')], { encoding: 'utf8' }).trim();
    expect(run()).toBe('main');
    put(join(dist, 'cli.mjs'), "console.log('bundle');", 30);
    expect(run()).toBe('bundle');
    put(join(dist, 'main.js'), "console.log('main');", 10);
    expect(run()).toBe('main');
  });
});
