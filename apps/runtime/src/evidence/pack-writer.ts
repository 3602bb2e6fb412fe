// Writes an evidence pack and its deterministic archive (R-EVD-1). Everything is built in a hidden sibling
// `.<name>.partial-<random>` and published at the end (archive by an exclusive link, directory by rename), so a
// failure at any point leaves nothing behind (SPEC §15) and an existing path is never replaced.
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { collectEntries, writeTarGz } from '../archive/tar-write.js';
import { CliError, EXIT } from '../errors.js';
import { sha256Hex } from '../release/format.js';
import type { ChainHeads } from './check.js';
import { renderJunit } from './junit.js';
import type { EvidenceKey } from './key.js';
import { byPath, JUNIT_PATH, MANIFEST_NAME, MANIFEST_SCHEMA, manifestBytes, PUBLIC_KEY_NAME, REPORT_NAME, SIGNATURE_NAME, THREAT_MODEL_NAME, type Manifest, type PackMeta } from './manifest.js';
import { renderReport } from './report.js';
import type { CheckResult } from './run.js';
import { signManifest } from './sign.js';

export interface PackInput {
  /** The pack directory to create (absolute); `<dir>.tar.gz` is the archive. */
  dir: string;
  meta: PackMeta;
  results: readonly CheckResult[];
  heads: ChainHeads | null;
  previous: { path: string; generated_at: string } | null;
  key: EvidenceKey;
  /** `<install root>/governance/THREAT_MODEL.md`, copied into the pack when present. */
  threatModelFile: string;
}

export const archiveOf = (dir: string) => `${dir}.tar.gz`;

/** `--out` and its archive must not exist: a pack is never written over anything. */
export function assertOutFree(dir: string): void {
  for (const path of [dir, archiveOf(dir)]) {
    if (existsSync(path)) throw new CliError(`${path} already exists`, EXIT.usage, 'name a new --out directory; an evidence pack never replaces anything');
  }
}

function readIfPresent(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch {
    // Missing, a directory or unreadable: the threat-model check FAILs naming it and the pack still builds.
    return null;
  }
}

/** The pack's files, path → bytes, everything but the manifest and its signature. */
function packFiles(input: PackInput, threatModel: Buffer | null): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const r of input.results) {
    for (const raw of r.raw) files.set(`raw/${r.id}/${raw.name}`, Buffer.from(`${JSON.stringify({ check: r.id, command: raw.command, output: raw.output ?? null }, null, 2)}\n`));
  }
  files.set(JUNIT_PATH, Buffer.from(renderJunit(input.results, input.meta.generated_at)));
  if (threatModel) files.set(THREAT_MODEL_NAME, threatModel);
  files.set(PUBLIC_KEY_NAME, Buffer.from(input.key.publicPem));
  files.set(REPORT_NAME, Buffer.from(renderReport({ meta: input.meta, results: input.results, previous: input.previous, threatModel: threatModel !== null })));
  return files;
}

export function buildManifest(input: PackInput, files: ReadonlyMap<string, Buffer>): Manifest {
  const checks = input.results.map((r) => ({
    id: r.id,
    pillar: r.pillar,
    title: r.title,
    status: r.status,
    reason: r.reason,
    command: r.command,
    started_at: r.started_at,
    ended_at: r.ended_at,
    controls: r.controls,
    raw: r.raw.map((o) => `raw/${r.id}/${o.name}`),
  }));
  const digests = [...files].map(([path, data]) => ({ path, sha256: sha256Hex(data), size: data.length })).sort(byPath);
  return { schema: MANIFEST_SCHEMA, ...input.meta, previous: input.previous, chain_heads: input.heads, checks, files: digests };
}

function writeTree(root: string, files: ReadonlyMap<string, Buffer>): void {
  mkdirSync(root, { mode: 0o755 });
  for (const [path, data] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true, mode: 0o755 });
    writeFileSync(join(root, path), data, { flag: 'wx', mode: 0o644 });
  }
}

/** Archive a pack directory: same directory content, same bytes (entries sorted, mtime = generated_at). */
export async function archivePack(dir: string, file: string, generatedAt: string): Promise<void> {
  await writeTarGz(file, collectEntries(dir, basename(dir)), Math.floor(Date.parse(generatedAt) / 1000));
}

function partialDir(parent: string, name: string): string {
  try {
    return mkdtempSync(join(parent, `.${name}.partial-`));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CliError(`cannot write the evidence pack in ${parent}: ${code}`, EXIT.usage, 'choose an --out directory whose parent exists and is writable');
  }
}

export async function writePack(input: PackInput): Promise<{ dir: string; archive: string }> {
  const { dir } = input;
  assertOutFree(dir);
  const threatModel = readIfPresent(input.threatModelFile);
  const work = partialDir(dirname(dir), basename(dir));
  try {
    const staged = join(work, basename(dir));
    const stagedArchive = join(work, basename(archiveOf(dir)));
    const files = packFiles(input, threatModel);
    const manifest = manifestBytes(buildManifest(input, files));
    files.set(MANIFEST_NAME, manifest);
    files.set(SIGNATURE_NAME, signManifest(manifest, input.key.privateKey, input.key.fingerprint));
    writeTree(staged, files);
    await archivePack(staged, stagedArchive, input.meta.generated_at);
    assertOutFree(dir);
    linkSync(stagedArchive, archiveOf(dir));
    try {
      // rename(2) would replace an empty directory created meanwhile; look once more right before.
      if (existsSync(dir)) throw new CliError(`${dir} appeared while the pack was being written`, EXIT.usage);
      renameSync(staged, dir);
    } catch (e) {
      unlinkSync(archiveOf(dir));
      throw e;
    }
    return { dir, archive: archiveOf(dir) };
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot write the evidence pack ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, EXIT.usage);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
