// Stages a verified release under $CARACAL_HOME/versions/<version>/ without touching the running one: unpacked
// into a private staging directory beside it, checked to run, then renamed into place. A tree already staged from
// the same archive is reused (a resumed upgrade); one staged from another archive is never overwritten.
import { execFileSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CliError } from '../errors.js';
import { archiveFile } from '../release/format.js';
import { releaseTop, type Release } from './release-source.js';
import { ArchiveError, readTarGz, refusedEntry, type EntrySink, type TarEntry } from '../archive/tar-read.js';

/** Written into a staged tree before it is renamed into place: its presence means the tree is complete. */
export const STAGED_MARKER = '.caracal-staged.json';
/** Space a file takes beyond its bytes (a block, rounded up); generous so a nearly full disk is caught up front. */
const PER_ENTRY_BYTES = 4096;

export interface Staged {
  root: string;
  reused: boolean;
}

export const versionsDir = (home: string) => join(home, 'versions');
export const stagedRoot = (home: string, version: string) => join(versionsDir(home), version);

interface Marker {
  version: string;
  archiveSha256: string;
  stagedAt: string;
}

function readMarker(root: string): Marker | undefined {
  try {
    return JSON.parse(readFileSync(join(root, STAGED_MARKER), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

/** The staged tree for `release`, if one from the same archive is there; throws if another one is. */
export function existingStage(home: string, release: Release): Staged | undefined {
  const root = stagedRoot(home, release.version);
  if (!lstatSync(versionsDir(home), { throwIfNoEntry: false })?.isDirectory() || !lstatSync(root, { throwIfNoEntry: false })) return undefined;
  const marker = readMarker(root);
  if (marker?.version === release.version && marker.archiveSha256 === release.archiveSha256) return { root, reused: true };
  throw new CliError(`${root} already holds a caracal ${release.version} that was not staged from this archive (${archiveFile(release.version)}, sha256 ${release.archiveSha256.slice(0, 12)}…); nothing was changed`, 1, `if no service runs from it (caracal status), remove ${root} and run the upgrade again`);
}

function ensureVersionsDir(dir: string, version: string): void {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw new CliError(`${dir} is not a directory; cannot stage release ${version}; nothing was changed`, 1, `move ${dir} away`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CliError(`cannot create ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'}); cannot stage release ${version}; nothing was changed`);
  }
}

function checkFreeSpace(dir: string, release: Release): void {
  let free: number;
  try {
    const s = statfsSync(dir);
    free = s.bavail * s.bsize;
  } catch {
    return; // statfs unsupported: the write itself reports a full disk
  }
  const need = release.unpackedBytes + release.entries * PER_ENTRY_BYTES;
  if (free < need) {
    throw new CliError(`${dir} has ${mb(free)} free; release ${release.version} needs about ${mb(need)} unpacked; nothing was changed`, 1, 'free some space on that file system');
  }
}

const mb = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MB`;

function writeFailure(dir: string, version: string, e: unknown): CliError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new CliError(`${dir}: no space left while unpacking release ${version}; nothing was changed`, 1, 'free some space on that file system');
  if (e instanceof ArchiveError) return new CliError(`${archiveFile(version)} of release ${version}: ${e.message}; nothing was changed`);
  return new CliError(`${dir}: cannot unpack release ${version} (${code ?? (e as Error).message}); nothing was changed`);
}

/** Files are opened exclusively, so an archive naming a path twice (or through a link) fails instead of overwriting. */
function unpackInto(staging: string, top: string) {
  let open: number | undefined;
  const visit = (entry: TarEntry): EntrySink | undefined => {
    const bad = refusedEntry(top, entry);
    if (bad) throw new ArchiveError(`refused entry ${bad}`);
    const abs = join(staging, entry.path);
    if (entry.kind === 'dir') {
      mkdirSync(abs, { recursive: true, mode: 0o755 });
      return undefined;
    }
    mkdirSync(dirname(abs), { recursive: true, mode: 0o755 });
    if (entry.kind === 'symlink') {
      symlinkSync(entry.link!, abs);
      return undefined;
    }
    const fd = openSync(abs, 'wx', entry.executable ? 0o755 : 0o644);
    open = fd;
    return {
      data: (chunk) => void writeSync(fd, chunk),
      end: () => {
        open = undefined;
        closeSync(fd);
      },
    };
  };
  const close = () => {
    if (open !== undefined) closeSync(open);
    open = undefined;
  };
  return { visit, close };
}

export async function stageRelease(home: string, release: Release, node: string = process.execPath): Promise<Staged> {
  const existing = existingStage(home, release);
  if (existing) return existing;
  const dir = versionsDir(home);
  ensureVersionsDir(dir, release.version);
  // Leftovers of a staging killed earlier are never used.
  for (const name of readdirSync(dir)) if (name.startsWith(`.staging-${release.version}-`)) rmSync(join(dir, name), { recursive: true, force: true });
  checkFreeSpace(dir, release);
  let staging: string;
  try {
    staging = mkdtempSync(join(dir, `.staging-${release.version}-`));
  } catch (e) {
    throw writeFailure(dir, release.version, e);
  }
  const top = releaseTop(release.version);
  const tree = join(staging, top);
  const unpack = unpackInto(staging, top);
  try {
    const { sha256 } = await readTarGz(release.archive, unpack.visit);
    if (sha256 !== release.archiveSha256) throw new CliError(`${archiveFile(release.version)} changed while it was being staged; nothing was changed`);
    writeFileSync(join(tree, STAGED_MARKER), `${JSON.stringify({ version: release.version, archiveSha256: release.archiveSha256, stagedAt: new Date().toISOString() } satisfies Marker)}\n`, { mode: 0o644 });
    checkRuns(tree, release.version, node);
    renameSync(tree, stagedRoot(home, release.version));
  } catch (e) {
    throw e instanceof CliError ? e : writeFailure(dir, release.version, e);
  } finally {
    unpack.close();
    rmSync(staging, { recursive: true, force: true });
  }
  return { root: stagedRoot(home, release.version), reused: false };
}

/** The unpacked CLI must run with this Node and report the release's version (as installers/install.sh checks). */
function checkRuns(tree: string, version: string, node: string): void {
  let out = '';
  try {
    out = execFileSync(node, [join(tree, 'apps', 'runtime', 'bin', 'caracal.js'), '--version'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1' } }).trim();
  } catch {
    out = '';
  }
  if (out !== version) throw new CliError(`the unpacked caracal ${version} does not run with Node ${process.versions.node} (it printed ${JSON.stringify(out.slice(0, 80))}); nothing was changed`);
}
