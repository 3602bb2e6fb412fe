// The CLI version and the install root (where services and migrations are found).
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/**
 * The repository (or release) this CLI runs from: three levels above apps/runtime/dist/, where both this module
 * (version.js) and the CLI's bundle (cli.mjs, which holds this code) lie.
 */
export const cliTree = () => resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** Where services and migrations are found: CARACAL_INSTALL_ROOT, or the CLI's own tree. */
export function installRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.CARACAL_INSTALL_ROOT ? resolve(env.CARACAL_INSTALL_ROOT) : cliTree();
}

export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}

export const migrationsDir = (root: string) => join(root, 'infra', 'postgres', 'migrations');

/**
 * `bundle` (written by `pnpm run build` after tsc) when it exists and is not older than `main`, else `main`: a tree
 * without bundles (a release built before them) runs its compiled modules, and so does one where tsc wrote `main`
 * after the bundle, which would otherwise run older code. A release archive gives every file one time, so there the
 * bundle runs. bin/caracal.js picks the CLI's entry with this too.
 */
export function freshestEntry(main: string, bundle: string): string {
  try {
    if (statSync(bundle).mtimeMs >= statSync(main).mtimeMs) return bundle;
  } catch {
    // no bundle (or no main, which the caller reports)
  }
  return main;
}

/** The file a service is started from: its bundle, dist/service.mjs, or dist/main.js (freshestEntry). */
export function serviceEntry(root: string, service: string): string {
  const dist = join(root, 'services', service, 'dist');
  return freshestEntry(join(dist, 'main.js'), join(dist, 'service.mjs'));
}
const supervisorCompiled = (root: string) => join(root, 'apps', 'runtime', 'dist', 'supervisor', 'main.js');

/** The supervisor's: its bundle, dist/supervisor.mjs, or dist/supervisor/main.js (freshestEntry). */
export function supervisorEntry(root: string): string {
  return freshestEntry(supervisorCompiled(root), join(root, 'apps', 'runtime', 'dist', 'supervisor.mjs'));
}

/**
 * The arguments a supervisor is started with: its entry, and when that is the bundle, the compiled entry's path as
 * well, which the supervisor ignores. Every CLI, those of earlier releases included, recognises a supervisor by
 * `supervisor/main.js` in its command line (SUPERVISOR_NEEDLE).
 */
export function supervisorArgs(root: string): string[] {
  const entry = supervisorEntry(root);
  const compiled = supervisorCompiled(root);
  return entry === compiled ? [entry] : [entry, compiled];
}
