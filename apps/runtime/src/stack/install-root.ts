// Which install root runs the stack: the CLI's own tree, or the newer version `runtime.json` points at (a staged
// `versions/<v>` after an upgrade), so an older CLI never starts the stack on the older code.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRuntimeInfo } from '../home/runtime-json.js';
import { compareVersions, isVersion } from '../upgrade/versions.js';
import { supervisorEntry } from '../version.js';
import type { StackContext } from './context.js';

/** The version an install root holds: its runtime package's version, as the release build names it. */
export function rootVersion(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'apps', 'runtime', 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error(`${join(root, 'apps', 'runtime', 'package.json')} has no version`);
  return pkg.version;
}

export interface PickedRoot {
  root: string;
  version: string;
  /** Set when runtime.json's root was chosen over the CLI's own. */
  fromRuntimeJson: boolean;
}

/** runtime.json's root when it records a newer version than the CLI's and still holds a supervisor; else the CLI's. */
export function pickRoot(ctx: StackContext, cliVersion: string): PickedRoot {
  const info = readRuntimeInfo(ctx.home.runtimeJson);
  if (info?.root && isVersion(info.version) && isVersion(cliVersion) && compareVersions(info.version, cliVersion) > 0 && existsSync(supervisorEntry(info.root))) {
    return { root: info.root, version: info.version, fromRuntimeJson: true };
  }
  return { root: ctx.root, version: cliVersion, fromRuntimeJson: false };
}
