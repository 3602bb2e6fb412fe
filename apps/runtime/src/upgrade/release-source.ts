// The release an upgrade moves to: copied into a private directory (so the files checked are the files used),
// verified with verify-release, its platform checked, and its archive read once without unpacking anything:
// every entry name, the version it carries, the services it holds and its migrations with their manifest.
import { copyFileSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkManifestEntries, guardMigrations, MANIFEST_NAME, parseManifest, parseMigrations, SERVICE_NAMES, type Manifest, type MigrationFile } from '@caracal/db';
import { CliError } from '../errors.js';
import { archiveFile, MANIFEST_FILE } from '../release/format.js';
import { releaseDirOf, runVerifyRelease } from '../commands/verify-release.js';
import type { Io } from '../commands/io.js';
import { checkPlatform, type Host } from './platform.js';
import { ArchiveError, readTarGz, refusedEntry, type EntrySink, type TarEntry } from '../archive/tar-read.js';

/** Largest tree a release may unpack to: far above a real one (about 40 MB), far below a decompression bomb. */
export const MAX_UNPACKED_BYTES = 2 * 1024 ** 3;
const MAX_KEPT_FILE = 4 * 1024 * 1024;
const MIGRATIONS = 'infra/postgres/migrations/';

export interface Release {
  /** What the operator named with --from. */
  source: string;
  /** The private, verified copy of the release directory. */
  dir: string;
  version: string;
  archive: string;
  archiveSha256: string;
  /** Entries and bytes the archive unpacks to. */
  entries: number;
  unpackedBytes: number;
  migrations: MigrationFile[];
  migrationManifest: Manifest;
  remove: () => void;
}

export const releaseTop = (version: string) => `caracal-${version}`;

/** Paths a release must hold to run: the CLI, the supervisor and every service's entry. */
export function requiredEntries(version: string): Array<{ what: string; path: string }> {
  const top = releaseTop(version);
  return [
    { what: 'the CLI', path: `${top}/apps/runtime/bin/caracal.js` },
    { what: 'the supervisor', path: `${top}/apps/runtime/dist/supervisor/main.js` },
    ...SERVICE_NAMES.map((s) => ({ what: `service ${s}`, path: `${top}/services/${s}/dist/main.js` })),
  ];
}

function privateCopy(source: string): string {
  const dir = releaseDirOf(source);
  const copy = mkdtempSync(join(tmpdir(), 'caracal-upgrade-'));
  try {
    for (const name of readdirSync(dir)) {
      if (!lstatSync(join(dir, name)).isFile()) throw new CliError(`${join(dir, name)} is not a regular file; a release directory holds only files`);
      copyFileSync(join(dir, name), join(copy, name));
    }
  } catch (e) {
    rmSync(copy, { recursive: true, force: true });
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read the release ${dir}: ${(e as Error).message}`);
  }
  return copy;
}

export async function openRelease(source: string, key: string | undefined, host: Host, io: Io): Promise<Release> {
  const dir = privateCopy(source);
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const report = await runVerifyRelease(dir, { ...(key ? { key } : {}) }, io);
    if (!report.ok || !report.version) {
      const f = report.firstFailure;
      throw new CliError(`release ${source} is not verified: ${f?.check ?? 'verification'} failed on ${f?.file ?? '?'}: ${f?.detail ?? 'no detail'}; nothing was changed`, 1, 'run `caracal verify-release` on it for the full report');
    }
    const version = report.version;
    checkPlatform(JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')), version, host);
    const archive = join(dir, archiveFile(version));
    const inspected = await inspectArchive(archive, version);
    return { source, dir, version, archive, ...inspected, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** Reads every entry once; keeps the runtime package.json and the migration files; writes nothing. */
async function inspectArchive(archive: string, version: string) {
  const top = releaseTop(version);
  const name = archiveFile(version);
  const paths = new Set<string>();
  const kept = new Map<string, Buffer[]>();
  let unpackedBytes = 0;
  const keep = (path: string) => path === `${top}/apps/runtime/package.json` || (path.startsWith(`${top}/${MIGRATIONS}`) && !path.slice(top.length + 1 + MIGRATIONS.length).includes('/'));
  const visit = (entry: TarEntry): EntrySink | undefined => {
    const bad = refusedEntry(top, entry);
    if (bad) throw new ArchiveError(`refused entry ${bad}`);
    paths.add(entry.path);
    unpackedBytes += entry.size;
    if (unpackedBytes > MAX_UNPACKED_BYTES) throw new ArchiveError(`unpacks to more than ${MAX_UNPACKED_BYTES} bytes`);
    if (entry.kind !== 'file' || !keep(entry.path)) return undefined;
    if (entry.size > MAX_KEPT_FILE) throw new ArchiveError(`${entry.path} is ${entry.size} bytes, more than a file of its kind may have`);
    const parts: Buffer[] = [];
    kept.set(entry.path, parts);
    return { data: (c) => parts.push(Buffer.from(c)), end: () => undefined };
  };
  let read: { sha256: string; entries: number };
  try {
    read = await readTarGz(archive, visit);
  } catch (e) {
    if (e instanceof ArchiveError) throw new CliError(`${name} of release ${version}: ${e.message}; nothing was changed`);
    throw e;
  }
  for (const { what, path } of requiredEntries(version)) {
    if (!paths.has(path)) throw new CliError(`release ${version} is missing ${what}: ${path} is not in ${name}; nothing was changed`);
  }
  const text = (path: string) => (kept.has(path) ? Buffer.concat(kept.get(path)!) : undefined);
  const pkg = text(`${top}/apps/runtime/package.json`);
  let declared: unknown;
  try {
    declared = pkg ? (JSON.parse(pkg.toString('utf8')) as { version?: unknown }).version : undefined;
  } catch {
    declared = undefined;
  }
  if (declared !== version) throw new CliError(`release ${version}: ${top}/apps/runtime/package.json says version ${JSON.stringify(declared)}; nothing was changed`);
  return { archiveSha256: read.sha256, entries: read.entries, unpackedBytes, ...releaseMigrations(version, kept) };
}

function releaseMigrations(version: string, kept: Map<string, Buffer[]>) {
  const dir = `${releaseTop(version)}/${MIGRATIONS}`;
  const manifestPath = `${dir}${MANIFEST_NAME}`;
  const manifestData = kept.get(manifestPath);
  const manifest = manifestData ? parseManifest(Buffer.concat(manifestData).toString('utf8')) : undefined;
  if (!manifest) throw new CliError(`release ${version}: ${manifestPath} is missing or not a JSON object of file → sha256; nothing was changed`);
  let files: MigrationFile[];
  try {
    files = parseMigrations([...kept].filter(([p]) => p.startsWith(dir)).map(([path, parts]) => ({ file: path.slice(dir.length), path, data: Buffer.concat(parts) })));
  } catch (e) {
    throw new CliError(`release ${version}: ${dir}${(e as Error).message}; nothing was changed`);
  }
  const problem = checkManifestEntries(manifest, files)[0];
  if (problem) throw new CliError(`release ${version}: ${dir}${problem.file}: ${problem.problem} (${manifestPath}); nothing was changed`);
  const violation = guardMigrations(files)[0];
  if (violation) throw new CliError(`release ${version}: ${dir}${violation.file}:${violation.line}: ${violation.construct} without the header '-- caracal:phase contract'; nothing was changed`);
  return { migrations: files, migrationManifest: manifest };
}
