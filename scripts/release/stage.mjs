// Stage the runnable tree of a release: the built CLI, services and packages, migrations and runtime assets, and
// production node_modules installed from the lockfile out of the local pnpm store (offline, no lifecycle scripts).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SOURCE_FILE } from '../../apps/runtime/dist/release/format.js';

const WORKSPACE_GROUPS = ['apps', 'services', 'packages'];
const ROOT_FILES = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'README.md', 'installers/caracal-release.pub', 'governance/THREAT_MODEL.md'];
const ROOT_DIRS = ['infra'];
const PACKAGE_PARTS = ['package.json', 'dist', 'bin'];

/** Build output that is not runtime: incremental build state. */
const notRuntime = (src) => !src.endsWith('.tsbuildinfo');

export function stageTree(repo, top, pnpm, source) {
  for (const f of ROOT_FILES) cpSync(join(repo, f), join(top, f));
  writeFileSync(join(top, SOURCE_FILE), `${JSON.stringify({ version: source.version, gitSha: source.gitSha, dirty: source.dirty })}\n`);
  for (const d of ROOT_DIRS) cpSync(join(repo, d), join(top, d), { recursive: true });
  for (const group of WORKSPACE_GROUPS) {
    for (const name of readdirSync(join(repo, group)).sort()) {
      for (const part of PACKAGE_PARTS) {
        const src = join(repo, group, name, part);
        if (existsSync(src)) cpSync(src, join(top, group, name, part), { recursive: true, filter: notRuntime });
      }
    }
  }
  // Hoisted layout: plain directories, so the tree runs wherever it is unpacked.
  const args = ['install', '--prod', '--frozen-lockfile', '--offline', '--ignore-scripts', '--config.node-linker=hoisted', '--reporter=silent'];
  const r = spawnSync(pnpm, args, { cwd: top, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: { ...process.env, CI: '1' } });
  if (r.status !== 0) throw new Error(`pnpm install --prod failed in the staging tree: ${(r.stderr || r.error?.message || '').trim()}`);
}

/**
 * Paths left out of the archive: pnpm's install state (timestamps, absolute paths) and `.bin` shims (absolute paths,
 * not needed at runtime: the CLI and services are started with `node <file>`).
 */
export function isInstallState(relPath) {
  return /(^|\/)node_modules\/\.bin$/.test(relPath) || /(^|\/)node_modules\/\.(modules\.yaml|pnpm-workspace-state.*)$/.test(relPath);
}
