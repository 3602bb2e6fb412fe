// Reads a tar.gz (POSIX ustar with pax path records, as tar-write.ts writes releases and evidence packs) as a
// stream of entries, hashing the compressed bytes on the way, and says which entries an archive may not hold.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

export type EntryKind = 'file' | 'dir' | 'symlink';

export interface TarEntry {
  path: string;
  kind: EntryKind;
  size: number;
  executable: boolean;
  link?: string;
}

/** Receives a file's bytes in order; `end` is called once all of them were given. */
export interface EntrySink {
  data: (chunk: Buffer) => void;
  end: () => void;
}

export class ArchiveError extends Error {}

const BLOCK = 512;
const MAX_PAX = 64 * 1024;

function cstring(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? length : nul).toString('utf8');
}

function octal(block: Buffer, start: number, length: number, what: string): number {
  if ((block[start]! & 0x80) !== 0) throw new ArchiveError(`${what} uses base-256 encoding, which no archive entry of ours needs`);
  const text = cstring(block, start, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new ArchiveError(`${what} is not an octal number`);
  return text === '' ? 0 : parseInt(text, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const len = Number(data.subarray(at, space).toString('ascii'));
    if (space === -1 || !Number.isInteger(len) || len <= 0 || at + len > data.length || data[at + len - 1] !== 0x0a) throw new ArchiveError('malformed pax record');
    const record = data.subarray(space + 1, at + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) throw new ArchiveError('malformed pax record');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}

/** Incremental parser: push decompressed bytes, then `finish()`. */
class TarParser {
  private buf: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private pad = 0;
  private zeros = 0;
  private done = false;
  private sink: EntrySink | undefined;
  private paxParts: Buffer[] | undefined;
  private pax: Record<string, string> = {};
  entries = 0;

  constructor(private readonly visit: (entry: TarEntry) => EntrySink | undefined) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length > 0 && !this.done) {
      if (this.remaining > 0) {
        const part = this.buf.subarray(0, Math.min(this.remaining, this.buf.length));
        this.buf = this.buf.subarray(part.length);
        this.remaining -= part.length;
        if (this.paxParts) this.paxParts.push(part);
        else this.sink?.data(part);
        if (this.remaining === 0) this.endEntry();
      } else if (this.pad > 0) {
        const n = Math.min(this.pad, this.buf.length);
        this.buf = this.buf.subarray(n);
        this.pad -= n;
      } else if (this.buf.length >= BLOCK) {
        const block = this.buf.subarray(0, BLOCK);
        this.buf = this.buf.subarray(BLOCK);
        this.header(block);
      } else return;
    }
  }

  finish(): void {
    if (!this.done) throw new ArchiveError('the archive ends early (truncated?)');
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      if (++this.zeros === 2) this.done = true;
      return;
    }
    if (this.zeros > 0) throw new ArchiveError('an entry follows an end-of-archive block');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (octal(block, 148, 8, 'a header checksum') !== sum) throw new ArchiveError(`header ${this.entries + 1} has a bad checksum (corrupt archive)`);
    const type = String.fromCharCode(block[156]!);
    const name = cstring(block, 0, 100);
    const prefix = cstring(block, 257, 6) === 'ustar' ? cstring(block, 345, 155) : '';
    const path = this.pax.path ?? (prefix ? `${prefix}/${name}` : name);
    const size = this.pax.size !== undefined ? Number(this.pax.size) : octal(block, 124, 12, `the size of ${path}`);
    if (!Number.isSafeInteger(size) || size < 0) throw new ArchiveError(`${path} has an invalid size`);
    const link = this.pax.linkpath ?? cstring(block, 157, 100);
    this.pax = {};
    this.entries += 1;
    if (type === 'x') {
      if (size > MAX_PAX) throw new ArchiveError(`a pax header of ${size} bytes is larger than any archive of ours needs`);
      this.paxParts = [];
      return this.startData(size);
    }
    const kind: EntryKind | undefined = type === '0' || type === '\0' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : undefined;
    if (!kind) throw new ArchiveError(`${path} is a ${type === '1' ? 'hard link' : `type ${JSON.stringify(type)} entry`}; an archive holds only files, directories and symbolic links`);
    const mode = octal(block, 100, 8, `the mode of ${path}`);
    const entry: TarEntry = { path, kind, size: kind === 'file' ? size : 0, executable: (mode & 0o111) !== 0, ...(kind === 'symlink' ? { link } : {}) };
    this.sink = this.visit(entry);
    this.startData(entry.size);
  }

  private startData(size: number): void {
    this.remaining = size;
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.endEntry();
  }

  private endEntry(): void {
    if (this.paxParts) {
      this.pax = parsePax(Buffer.concat(this.paxParts));
      this.paxParts = undefined;
      return;
    }
    this.sink?.end();
    this.sink = undefined;
  }
}

/**
 * Streams `file` through gunzip and the tar parser; `visit` sees every entry in archive order and returns a sink
 * for a file's bytes when it wants them. Resolves with the SHA-256 of the compressed file and the entry count.
 */
export async function readTarGz(file: string, visit: (entry: TarEntry) => EntrySink | undefined): Promise<{ sha256: string; entries: number }> {
  const hash = createHash('sha256');
  const parser = new TarParser(visit);
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  // pipeline() reports a failing last stage as an abort; keep what the visitor threw.
  let inner: unknown;
  try {
    await pipeline(createReadStream(file), tap, createGunzip(), async (source: AsyncIterable<Buffer>) => {
      try {
        for await (const chunk of source) parser.push(chunk);
      } catch (e) {
        inner = e;
        throw e;
      }
    });
    parser.finish();
  } catch (caught) {
    const e = inner ?? caught;
    if (e instanceof ArchiveError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'ERR_STREAM_PREMATURE_CLOSE') throw new ArchiveError(`not a readable gzip stream (${code}; truncated or corrupt?)`);
    throw e;
  }
  return { sha256: hash.digest('hex'), entries: parser.entries };
}

/**
 * Why `entry` may not be unpacked from the archive of release `top` (`caracal-<version>`), or undefined: every
 * path lies under `top/`, none is absolute or holds `..`, an empty or `.` segment or a control character, and
 * every symbolic link resolves inside `top`.
 */
export function refusedEntry(top: string, entry: TarEntry): string | undefined {
  const path = entry.kind === 'dir' ? entry.path.replace(/\/$/, '') : entry.path;
  if (/[\u0000-\u001f\u007f\\]/.test(entry.path)) return `${JSON.stringify(entry.path)} (a control character or backslash in the name)`;
  if (path !== top && !path.startsWith(`${top}/`)) return `${entry.path} (outside ${top}/)`;
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) return `${entry.path} (an empty, "." or ".." path segment)`;
  if (entry.kind === 'symlink') {
    const link = entry.link ?? '';
    const resolved = posix.normalize(posix.join(posix.dirname(path), link));
    if (link === '' || link.startsWith('/') || (resolved !== top && !resolved.startsWith(`${top}/`))) return `${entry.path} -> ${link} (points outside the release)`;
  }
  return undefined;
}
