// Reads an OPA bundle (`opa build -t wasm`: a tar.gz holding /.manifest, /policy.wasm, the Rego sources and
// /data.json) in memory and hands back its wasm module and the entrypoints the manifest declares. Bundles are small:
// the decompressed size is capped, and only regular files, directories and pax path records are accepted.
import { gunzipSync } from 'node:zlib';

export class BundleError extends Error {
  override readonly name = 'BundleError';
}

export interface PolicyBundle {
  /** The compiled policy (OPA wasm ABI), from /policy.wasm. */
  wasm: Buffer;
  /** Entrypoints the manifest declares for that module, e.g. `caracal/allow`. */
  entrypoints: string[];
  /** Every file of the bundle, by its path without the leading `/` (or `./`). */
  files: Map<string, Buffer>;
}

/** Largest decompressed bundle read (the wasm runtime alone is ~130 KiB; data files make up the rest). */
export const MAX_BUNDLE_BYTES = 32 * 1024 * 1024;
const BLOCK = 512;

function field(block: Buffer, start: number, length: number): string {
  const bytes = block.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? length : end).toString('utf8');
}

function sizeOf(block: Buffer): number {
  const text = field(block, 124, 12).trim();
  if (!/^[0-7]+$/.test(text)) throw new BundleError('a bundle entry has no valid size');
  return parseInt(text, 8);
}

/** The `path` record of a pax extended header, if it has one. */
function paxPath(data: Buffer): string | undefined {
  for (const line of data.toString('utf8').split('\n')) {
    const record = line.slice(line.indexOf(' ') + 1);
    if (record.startsWith('path=')) return record.slice('path='.length);
  }
  return undefined;
}

function untar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let at = 0;
  let longPath: string | undefined;
  while (at + BLOCK <= tar.length) {
    const block = tar.subarray(at, at + BLOCK);
    if (block.every((b) => b === 0)) return files;
    const size = sizeOf(block);
    const body = tar.subarray(at + BLOCK, at + BLOCK + size);
    if (body.length !== size) throw new BundleError('the bundle ends inside an entry (truncated?)');
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    const type = String.fromCharCode(block[156]!);
    const prefix = field(block, 345, 155);
    const path = (longPath ?? (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100))).replace(/^(\.?\/)+/, '');
    longPath = undefined;
    if (type === 'x') longPath = paxPath(body);
    else if (type === '0' || type === '\0') files.set(path, Buffer.from(body));
    else if (type !== '5') throw new BundleError(`bundle entry ${path} is neither a file nor a directory`);
  }
  throw new BundleError('the bundle has no end-of-archive marker (truncated?)');
}

function manifestEntrypoints(manifest: Buffer | undefined): string[] {
  if (!manifest) throw new BundleError('the bundle has no .manifest: build it with `opa build -t wasm`');
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifest.toString('utf8'));
  } catch {
    throw new BundleError('the bundle .manifest is not JSON');
  }
  const wasm = (parsed as { wasm?: unknown }).wasm;
  if (!Array.isArray(wasm)) throw new BundleError('the bundle .manifest declares no wasm module');
  return wasm.filter((w): w is { entrypoint: string; module: string } => typeof w?.entrypoint === 'string' && w.module === '/policy.wasm').map((w) => w.entrypoint);
}

/** Reads a bundle's bytes (.tar.gz); throws BundleError when it is not a wasm bundle. */
export function readBundle(bytes: Uint8Array): PolicyBundle {
  let tar: Buffer;
  try {
    tar = gunzipSync(bytes, { maxOutputLength: MAX_BUNDLE_BYTES });
  } catch (e) {
    const tooLarge = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    throw new BundleError(tooLarge ? `the bundle is larger than ${MAX_BUNDLE_BYTES} bytes uncompressed` : 'the bundle is not a gzip archive');
  }
  const files = untar(tar);
  const wasm = files.get('policy.wasm');
  if (!wasm) throw new BundleError('the bundle has no policy.wasm: build it with `opa build -t wasm`');
  const entrypoints = manifestEntrypoints(files.get('.manifest'));
  if (entrypoints.length === 0) throw new BundleError('the bundle .manifest names no entrypoint of policy.wasm');
  return { wasm, entrypoints, files };
}
