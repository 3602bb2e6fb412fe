// `caracal purge [targets]`: remove stack, data, logs, secrets, config. Destructive targets need typed
// confirmation (or --yes); --dry-run shows the plan and changes nothing.
import { existsSync, rmSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { homeLayout, isInitialised } from '../stack/context.js';
import { confirmTyped } from './confirm.js';
import { runDown } from './down.js';
import type { Io } from './io.js';

export const PURGE_TARGETS = ['stack', 'data', 'logs', 'secrets', 'config', 'all'] as const;
type Target = (typeof PURGE_TARGETS)[number];
const DESTRUCTIVE: readonly Target[] = ['data', 'secrets', 'config', 'all'];

export interface PurgeOptions {
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export interface PurgeReport {
  dryRun: boolean;
  stopped: boolean;
  removed: string[];
}

export async function runPurge(targetsIn: string[], opts: PurgeOptions, io: Io): Promise<PurgeReport> {
  const targets = (targetsIn.length ? targetsIn : ['all']) as Target[];
  const unknown = targets.filter((t) => !PURGE_TARGETS.includes(t));
  if (unknown.length) throw new UsageError(`unknown purge target(s): ${unknown.join(', ')}; expected ${PURGE_TARGETS.join(', ')}`);
  const all = targets.includes('all');
  const has = (t: Target) => all || targets.includes(t);
  const home = homeLayout(io.env);
  const paths: string[] = [];
  if (has('data')) paths.push(home.dataDir, home.postgresBase);
  if (has('logs')) paths.push(home.logsDir, home.upgradeLog);
  if (has('secrets')) paths.push(home.secretsDir);
  if (has('config')) paths.push(home.envFile, home.runtimeJson, home.controlDir);
  if (all) paths.push(home.root);
  const present = [...new Set(paths)].filter((p) => existsSync(p));
  const stop = isInitialised(home) && (has('stack') || has('data') || has('secrets') || has('config'));

  if (opts.dryRun) {
    return { dryRun: true, stopped: false, removed: present };
  }
  if (targets.some((t) => DESTRUCTIVE.includes(t)) && !opts.yes) {
    if (!io.out.interactive) throw new UsageError(`purging ${targets.join(', ')} is destructive; add --yes to confirm non-interactively`);
    await confirmTyped(io, 'purge', `This permanently removes ${targets.join(', ')} under ${home.root}`);
  }
  let stopped = false;
  if (stop) {
    const r = await runDown({}, io);
    stopped = r.services === 'stopped' || r.postgres === 'stopped' || r.redis === 'stopped';
  }
  for (const p of present) rmSync(p, { recursive: true, force: true });
  return { dryRun: false, stopped, removed: present };
}

export function printPurge(r: PurgeReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(r);
  const verb = r.dryRun ? 'would remove' : 'removed';
  if (r.removed.length === 0) io.out.data('nothing to remove');
  for (const p of r.removed) io.out.data(`${verb} ${p}`);
}
