// The one reproducible tar.gz writer, for release archives (R-REL-1) and evidence packs (R-EVD-1): entries in byte
// order of their path, one fixed mtime, uid/gid 0 with no owner names, modes normalised to 0755/0644, PAX records
// for long paths (POSIX.1-2001 ustar + pax), and gzip from node:zlib, whose header carries no file name and a zero
// mtime. Same input tree, same bytes.
import { closeSync, createReadStream, createWriteStream, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

const BLOCK = 512;

export interface WriteEntry {
  /** Archive path; a directory's ends with `/`. */
  path: string;
  abs: string;
  kind: 'file' | 'dir' | 'symlink';
  exec?: boolean;
  link?: string;
}

const byteOrder = (a: WriteEntry, b: WriteEntry) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));

/** Every entry under `root`, as archive paths below `prefix`, sorted; `skip(relPath)` drops a subtree. */
export function collectEntries(root: string, prefix: string, skip: (relPath: string) => boolean = () => false): WriteEntry[] {
  const out: WriteEntry[] = [{ path: `${prefix}/`, abs: root, kind: 'dir' }];
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const relPath = rel ? `${rel}/${name}` : name;
      if (skip(relPath)) continue;
      const abs = join(dir, name);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out.push({ path: `${prefix}/${relPath}`, abs, kind: 'symlink', link: readlinkSync(abs) });
      else if (st.isDirectory()) {
        out.push({ path: `${prefix}/${relPath}/`, abs, kind: 'dir' });
        walk(abs, relPath);
      } else if (st.isFile()) out.push({ path: `${prefix}/${relPath}`, abs, kind: 'file', exec: (st.mode & 0o111) !== 0 });
    }
  };
  walk(root, '');
  return out.sort(byteOrder);
}

const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, '0')}\0`;

function header(name: string, h: { mode: number; size: number; mtime: number; type: string; link?: string }): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name.slice(0, 100), 0, 100, 'utf8');
  b.write(octal(h.mode, 8), 100);
  b.write(octal(0, 8), 108);
  b.write(octal(0, 8), 116);
  b.write(octal(h.size, 12), 124);
  b.write(octal(h.mtime, 12), 136);
  b.write(h.type, 156);
  b.write((h.link ?? '').slice(0, 100), 157, 100, 'utf8');
  b.write('ustar\0', 257);
  b.write('00', 263);
  b.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return b;
}

/** One PAX record: "<len> key=value\n", where len counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len += 1;
  return `${len}${body}`;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

function writeEntry(fd: number, entry: WriteEntry, mtime: number): void {
  const data = entry.kind === 'file' ? readFileSync(entry.abs) : Buffer.alloc(0);
  const link = entry.link ?? '';
  const pax: string[] = [];
  if (Buffer.byteLength(entry.path) > 100) pax.push(paxRecord('path', entry.path));
  if (Buffer.byteLength(link) > 100) pax.push(paxRecord('linkpath', link));
  if (pax.length > 0) {
    const body = Buffer.from(pax.join(''));
    writeSync(fd, header('PaxHeader', { mode: 0o644, size: body.length, mtime, type: 'x' }));
    writeSync(fd, Buffer.concat([body, padding(body.length)]));
  }
  const mode = entry.kind === 'symlink' ? 0o777 : entry.kind === 'dir' || entry.exec ? 0o755 : 0o644;
  const type = { file: '0', dir: '5', symlink: '2' }[entry.kind];
  writeSync(fd, header(entry.path, { mode, size: data.length, mtime, type, link }));
  if (data.length > 0) writeSync(fd, Buffer.concat([data, padding(data.length)]));
}

/** Write `entries` as a tar.gz at `file`, every mtime set to `mtime` (seconds since the epoch). */
export async function writeTarGz(file: string, entries: readonly WriteEntry[], mtime: number): Promise<void> {
  const raw = `${file}.tar`;
  const fd = openSync(raw, 'wx');
  try {
    try {
      for (const entry of entries) writeEntry(fd, entry, mtime);
      writeSync(fd, Buffer.alloc(BLOCK * 2));
    } finally {
      closeSync(fd);
    }
    await pipeline(createReadStream(raw), createGzip({ level: 9 }), createWriteStream(file, { flags: 'wx' }));
  } finally {
    rmSync(raw, { force: true });
  }
}
