// Which install root `up` starts: runtime.json's when it records a newer version whose supervisor exists, else the
// CLI's own (version order is tested with upgrade/versions.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { layout } from '../../src/home/paths.js';
import { readRuntimeInfo, writeRuntimeInfo } from '../../src/home/runtime-json.js';
import { pickRoot, rootVersion } from '../../src/stack/install-root.js';
import type { StackContext } from '../../src/stack/context.js';

describe('pickRoot', () => {
  let dir: string;
  let ctx: StackContext;
  const staged = (version: string) => {
    const root = join(dir, 'versions', version);
    mkdirSync(join(root, 'apps', 'runtime', 'dist', 'supervisor'), { recursive: true });
    writeFileSync(join(root, 'apps', 'runtime', 'dist', 'supervisor', 'main.js'), '');
    writeFileSync(join(root, 'apps', 'runtime', 'package.json'), JSON.stringify({ version }));
    return root;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'caracal-root-'));
    ctx = { home: layout(dir, false), root: '/cli/root', env: {} } as unknown as StackContext;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('takes runtime.json root when it records a newer version that exists', () => {
    const root = staged('0.2.0');
    writeRuntimeInfo(ctx.home.runtimeJson, '0.2.0', root);
    expect(readRuntimeInfo(ctx.home.runtimeJson)).toMatchObject({ version: '0.2.0', root });
    expect(pickRoot(ctx, '0.1.0')).toEqual({ root, version: '0.2.0', fromRuntimeJson: true });
    expect(rootVersion(root)).toBe('0.2.0');
  });

  it("keeps the CLI's root for the same or an older version, a missing directory, or no root recorded", () => {
    const root = staged('0.2.0');
    writeRuntimeInfo(ctx.home.runtimeJson, '0.2.0', root);
    expect(pickRoot(ctx, '0.2.0').root).toBe('/cli/root');
    expect(pickRoot(ctx, '0.3.0')).toEqual({ root: '/cli/root', version: '0.3.0', fromRuntimeJson: false });
    writeRuntimeInfo(ctx.home.runtimeJson, '0.5.0', join(dir, 'versions', 'gone'));
    expect(pickRoot(ctx, '0.1.0').root).toBe('/cli/root');
    writeRuntimeInfo(ctx.home.runtimeJson, '0.5.0');
    expect(pickRoot(ctx, '0.1.0').root).toBe('/cli/root');
    writeFileSync(ctx.home.runtimeJson, '{ not json');
    expect(pickRoot(ctx, '0.1.0').root).toBe('/cli/root');
  });
});
