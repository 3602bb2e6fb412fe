// The CLI version and the install root (where services and migrations are found).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** apps/runtime/dist/version.js → repository (or release) root. */
export function installRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.CARACAL_INSTALL_ROOT ? resolve(env.CARACAL_INSTALL_ROOT) : resolve(fileURLToPath(new URL('../../..', import.meta.url)));
}

export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}

export const migrationsDir = (root: string) => join(root, 'infra', 'postgres', 'migrations');
export const serviceEntry = (root: string, service: string) => join(root, 'services', service, 'dist', 'main.js');
export const supervisorEntry = (root: string) => join(root, 'apps', 'runtime', 'dist', 'supervisor', 'main.js');
