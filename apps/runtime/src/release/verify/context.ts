// What the verify-release checks share: the directory, the trusted key, and what earlier checks established.
import type { KeyObject } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SumsLine } from '../format.js';

/** A check failed: names the file and says why (R-REL-2 "names the first failure"). */
export class CheckFailure extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ReleaseContext {
  dir: string;
  key: KeyObject;
  /** Set by the SHA256SUMS grammar check. */
  sumsText?: string;
  sums?: SumsLine[];
  version?: string;
  /** Set by the provenance signature check. */
  statement?: unknown;
}

/** Read a small regular file of the release; a missing, oversized or non-regular file fails the check. */
export function readArtefact(ctx: ReleaseContext, name: string, max: number): Buffer {
  const file = join(ctx.dir, name);
  let size: number;
  try {
    const st = lstatSync(file);
    if (!st.isFile()) throw new CheckFailure(name, `${name} is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof CheckFailure || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new CheckFailure(name, `${name} is missing`);
  }
  if (size > max) throw new CheckFailure(name, `${name} is ${size} bytes, more than the ${max} bytes a release file of its kind may have`);
  return readFileSync(file);
}

export function parseJson(name: string, data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    throw new CheckFailure(name, `${name} is not JSON`);
  }
}

/** The digest SHA256SUMS lists for `name` (already checked against the file by the digest check). */
export function listedDigest(ctx: ReleaseContext, name: string): string {
  const line = ctx.sums?.find((l) => l.name === name);
  if (!line) throw new CheckFailure(name, `${name} is not listed in SHA256SUMS`);
  return line.digest;
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
