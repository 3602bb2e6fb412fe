// Test helpers for releases: a throwaway key pair and a release built from this checkout with `pnpm release`.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO } from '../../../../test-support/cli.js';

export const RELEASE_MAIN = join(REPO, 'scripts', 'release', 'main.mjs');

export interface KeyPair {
  privateFile: string;
  publicFile: string;
}

export async function releaseCli(args: readonly string[]) {
  const r = await execa(process.execPath, [RELEASE_MAIN, ...args], { cwd: REPO, reject: false, stdin: 'ignore', timeout: 170_000 });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export async function throwawayKey(dir: string, name: string): Promise<KeyPair> {
  const out = join(dir, name);
  const r = await releaseCli(['keygen', '--out', out]);
  if (r.exitCode !== 0) throw new Error(`keygen failed: ${r.stderr}`);
  return { privateFile: join(out, 'caracal-release.key'), publicFile: join(out, 'caracal-release.pub') };
}

/** Build a release signed by `key` under `outParent`; returns its directory. */
export async function buildRelease(outParent: string, key: KeyPair): Promise<string> {
  const r = await releaseCli(['--key', key.privateFile, '--key-pub', key.publicFile, '--out', outParent]);
  if (r.exitCode !== 0) throw new Error(`release build failed: ${r.stderr}`);
  return r.stdout.trim();
}

export function tempDir(label: string) {
  const dir = mkdtempSync(join(tmpdir(), `caracal-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const listDir = (dir: string) => readdirSync(dir).sort();
