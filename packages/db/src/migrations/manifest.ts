// The checksum manifest freezes released migration files: a released file may never change (R-MIG-1).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MigrationFile } from './files.js';

export const MANIFEST_NAME = 'manifest.json';

export interface ManifestProblem {
  file: string;
  problem: string;
}

export type Manifest = Record<string, string>;

/** The manifest's JSON text as a file → sha256 map, or undefined when it is not one. */
export function parseManifest(text: string): Manifest | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    return Object.values(parsed).every((v) => typeof v === 'string') ? (parsed as Manifest) : undefined;
  } catch {
    return undefined;
  }
}

/** The manifest in `dir`, or undefined when it is missing or not a JSON object of file → sha256. */
export function readManifest(dir: string): Manifest | undefined {
  try {
    return parseManifest(readFileSync(join(dir, MANIFEST_NAME), 'utf8'));
  } catch {
    return undefined;
  }
}

export function checkManifest(dir: string, files: readonly MigrationFile[]): ManifestProblem[] {
  const manifest = readManifest(dir);
  if (!manifest) return [{ file: MANIFEST_NAME, problem: 'missing or not a JSON object' }];
  return checkManifestEntries(manifest, files);
}

/** Every released file is present and unchanged. */
export function checkManifestEntries(manifest: Manifest, files: readonly MigrationFile[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const byFile = new Map(files.map((f) => [f.file, f]));
  for (const [file, sha] of Object.entries(manifest)) {
    const f = byFile.get(file);
    if (!f) problems.push({ file, problem: 'released file is missing' });
    else if (f.sha256 !== sha) problems.push({ file, problem: 'released file was modified (sha256 differs from the manifest)' });
  }
  return problems;
}

/** Records every current file as released; existing entries are never rewritten. */
export function writeManifest(dir: string, files: readonly MigrationFile[]): void {
  const manifest = readManifest(dir) ?? {};
  for (const f of files) manifest[f.file] ??= f.sha256;
  const sorted = Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(join(dir, MANIFEST_NAME), `${JSON.stringify(sorted, null, 2)}\n`);
}
