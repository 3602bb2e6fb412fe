// Test helpers for releases: a throwaway key pair and a release built from this checkout with `pnpm release`.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO } from '../../../../test-support/cli.js';
import { loadReleaseKey, signStatement, signSums } from '../../../../scripts/release/sign.mjs';
import { BUNDLE_FILE, formatSums, sha256Hex, SIG_FILE, SIGNATURE_FILES, SUMS_FILE } from '../../src/release/format.js';

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

/** Copy a release to a fresh directory a test may tamper with. */
export function copyRelease(src: string, parent: string, label: string): string {
  const dest = join(parent, label);
  cpSync(src, dest, { recursive: true });
  return dest;
}

/**
 * Re-sign a tampered release as a key holder would: optionally rewrite and re-sign the provenance, then list every
 * file in SHA256SUMS again and sign it, so the tamper reaches the check that is meant to catch it.
 */
export async function resign(dir: string, key: KeyPair, edit?: (statement: any) => void): Promise<void> {
  const releaseKey = loadReleaseKey(key.privateFile, key.publicFile);
  const provenance = readdirSync(dir).find((f) => f.endsWith('.intoto.jsonl'));
  if (edit && provenance) {
    const statement = JSON.parse(Buffer.from(JSON.parse(readFileSync(join(dir, provenance), 'utf8')).payload, 'base64').toString('utf8'));
    edit(statement);
    writeFileSync(join(dir, provenance), signStatement(statement, releaseKey));
  }
  const listed = readdirSync(dir).filter((f) => f !== SUMS_FILE && !SIGNATURE_FILES.includes(f));
  const sums = formatSums(listed.map((name) => ({ name, digest: sha256Hex(readFileSync(join(dir, name))) })));
  writeFileSync(join(dir, SUMS_FILE), sums);
  const { bundleJson, der } = await signSums(sums, releaseKey);
  writeFileSync(join(dir, BUNDLE_FILE), bundleJson);
  writeFileSync(join(dir, SIG_FILE), der);
}
