// Which install root runs the stack: the CLI's own tree, or the newer version `runtime.json` points at (a staged
// `versions/<v>` after an upgrade), so an older CLI never starts the stack on the older code.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRuntimeInfo } from '../home/runtime-json.js';
import { supervisorEntry } from '../version.js';
import type { StackContext } from './context.js';

/** The version an install root holds: its runtime package's version, as the release build names it. */
export function rootVersion(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'apps', 'runtime', 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error(`${join(root, 'apps', 'runtime', 'package.json')} has no version`);
  return pkg.version;
}

/** Orders `MAJOR.MINOR.PATCH[-pre]` versions (SemVer 2.0 §11): negative, zero or positive like a comparator. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = v.split('+')[0]!.split(/-(.*)/s);
    return { nums: core.split('.').map((n) => Number(n) || 0), pre: pre ? pre.split('.') : [] };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) if (x.nums[i] !== y.nums[i]) return (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined || q === undefined) return p === undefined ? -1 : 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
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
  if (info?.root && compareVersions(info.version, cliVersion) > 0 && existsSync(supervisorEntry(info.root))) {
    return { root: info.root, version: info.version, fromRuntimeJson: true };
  }
  return { root: ctx.root, version: cliVersion, fromRuntimeJson: false };
}
