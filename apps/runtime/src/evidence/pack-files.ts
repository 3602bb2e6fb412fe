// Reads what an evidence pack holds, from its directory or its tar.gz, without unpacking anything: each regular
// file's SHA-256 and size, and the bytes of the few small files the verifier parses. An archive entry that leaves
// the pack's top directory, any link, and an oversize entry or archive are refused unread (SPEC §15).
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveError, readTarGz, refusedEntry, type EntrySink, type TarEntry } from '../archive/tar-read.js';
import { sha256Of } from '../release/verify/check-sums.js';
import { MANIFEST_NAME, PUBLIC_KEY_NAME, SIGNATURE_NAME } from './manifest.js';

/** The input cannot be read as a pack at all (verify exit 2, not a finding). */
export class PackUnreadable extends Error {}

export interface PackListing {
  source: 'directory' | 'archive';
  files: Map<string, { sha256: string; size: number }>;
  /** Bytes of manifest.json, manifest.sig.json and the public key, when present. */
  content: Map<string, Buffer>;
}

export interface PackLimits {
  entryBytes: number;
  totalBytes: number;
  entries: number;
}

/** Far above any real pack (raw evidence is JSON summaries), far below what would exhaust a disk or a day. */
export const PACK_LIMITS: PackLimits = { entryBytes: 1 << 30, totalBytes: 4 * (1 << 30), entries: 200_000 };
const KEPT = new Set([MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME]);
const MAX_KEPT = 16 * 1024 * 1024;

function isGzip(path: string): boolean {
  const head = Buffer.alloc(2);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  return head[0] === 0x1f && head[1] === 0x8b;
}

async function readDirectory(root: string, limits: PackLimits): Promise<PackListing> {
  const listing: PackListing = { source: 'directory', files: new Map(), content: new Map() };
  let total = 0;
  const walk = async (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, name));
      if (st.isDirectory()) await walk(join(dir, name), path);
      else if (!st.isFile()) throw new PackUnreadable(`${path} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; a pack holds only regular files`);
      else {
        total += st.size;
        if (listing.files.size >= limits.entries || st.size > limits.entryBytes || total > limits.totalBytes) throw new PackUnreadable(`${path}: the pack is larger than any evidence pack (${limits.entries} files, ${limits.entryBytes} bytes a file)`);
        listing.files.set(path, { sha256: await sha256Of(join(dir, name)), size: st.size });
        if (KEPT.has(path) && st.size <= MAX_KEPT) listing.content.set(path, readFileSync(join(dir, name)));
      }
    }
  };
  await walk(root, '');
  return listing;
}

async function readArchive(file: string, limits: PackLimits): Promise<PackListing> {
  const listing: PackListing = { source: 'archive', files: new Map(), content: new Map() };
  let top: string | undefined;
  let total = 0;
  const visit = (entry: TarEntry): EntrySink | undefined => {
    top ??= entry.path.split('/')[0] ?? '';
    const refused = refusedEntry(top, entry);
    if (refused) throw new ArchiveError(`refused entry ${refused}`);
    if (entry.kind === 'symlink') throw new ArchiveError(`refused entry ${entry.path} (a symbolic link; a pack holds only regular files)`);
    if (entry.kind === 'dir') return undefined;
    if (entry.path === top) throw new ArchiveError(`refused entry ${entry.path} (a file where the pack's directory should be)`);
    const path = entry.path.slice(top.length + 1);
    total += entry.size;
    if (listing.files.has(path)) throw new ArchiveError(`refused entry ${entry.path} (it appears twice)`);
    if (listing.files.size >= limits.entries || entry.size > limits.entryBytes || total > limits.totalBytes) throw new ArchiveError(`refused entry ${entry.path} (${entry.size} bytes: larger than any evidence pack)`);
    const hash = createHash('sha256');
    const kept: Buffer[] | undefined = KEPT.has(path) && entry.size <= MAX_KEPT ? [] : undefined;
    return {
      data: (chunk) => {
        hash.update(chunk);
        kept?.push(chunk);
      },
      end: () => {
        listing.files.set(path, { sha256: hash.digest('hex'), size: entry.size });
        if (kept) listing.content.set(path, Buffer.concat(kept));
      },
    };
  };
  try {
    await readTarGz(file, visit);
  } catch (e) {
    if (e instanceof ArchiveError) throw new PackUnreadable(`${file}: ${e.message}`);
    throw e;
  }
  return listing;
}

/** The listing of the pack at `target`, a pack directory or its tar.gz. */
export async function readPack(target: string, limits: PackLimits = PACK_LIMITS): Promise<PackListing> {
  let st;
  try {
    st = lstatSync(target);
  } catch (e) {
    throw new PackUnreadable(`${target} cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    if (st.isDirectory()) return await readDirectory(target, limits);
    if (st.isFile() && isGzip(target)) return await readArchive(target, limits);
  } catch (e) {
    if (e instanceof PackUnreadable) throw e;
    throw new PackUnreadable(`${target} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  throw new PackUnreadable(`${target} is neither an evidence pack directory nor a tar.gz`);
}
