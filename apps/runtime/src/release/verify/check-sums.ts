// SHA256SUMS: its grammar, then every digest against its file (R-REL-2). Names are plain file names: no `/`, `\`,
// `..`, NUL or control characters, no duplicates, and every file in the directory except the signatures is listed.
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MAX_SUMS_BYTES, SIGNATURE_FILES, SUMS_FILE, type SumsLine } from '../format.js';
import { CheckFailure, readArtefact, type ReleaseContext } from './context.js';

const LINE = /^([0-9a-f]{64}) {2}(.+)$/;
const ARCHIVE = /^caracal-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\.tar\.gz$/;

function badName(name: string): string | undefined {
  if (name.includes('/') || name.includes('\\')) return 'a path separator';
  if (name.includes('..')) return '".."';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a control character';
  if (name === SUMS_FILE || SIGNATURE_FILES.includes(name)) return 'a file that cannot list itself';
  return undefined;
}

export function checkSumsGrammar(ctx: ReleaseContext): string {
  const text = readArtefact(ctx, SUMS_FILE, MAX_SUMS_BYTES).toString('utf8');
  if (!text.endsWith('\n')) throw new CheckFailure(SUMS_FILE, `${SUMS_FILE} does not end with a newline`);
  const lines: SumsLine[] = [];
  text.slice(0, -1).split('\n').forEach((raw, i) => {
    const m = LINE.exec(raw);
    if (!m) throw new CheckFailure(SUMS_FILE, `${SUMS_FILE} line ${i + 1} is not "<64 lowercase hex>  <name>"`);
    const name = m[2]!;
    const why = badName(name);
    if (why) throw new CheckFailure(SUMS_FILE, `${SUMS_FILE} line ${i + 1} names ${JSON.stringify(name)}, which contains ${why}`);
    if (lines.some((l) => l.name === name)) throw new CheckFailure(SUMS_FILE, `${SUMS_FILE} line ${i + 1} lists ${name} twice`);
    lines.push({ digest: m[1]!, name });
  });
  const archives = lines.map((l) => ARCHIVE.exec(l.name)).filter((m) => m !== null);
  if (archives.length !== 1) throw new CheckFailure(SUMS_FILE, `${SUMS_FILE} must list exactly one caracal-<version>.tar.gz (found ${archives.length})`);
  for (const entry of readdirSync(ctx.dir).sort()) {
    if (entry === SUMS_FILE || SIGNATURE_FILES.includes(entry)) continue;
    if (!lines.some((l) => l.name === entry)) throw new CheckFailure(entry, `${entry} is in the release but not listed in ${SUMS_FILE}`);
  }
  ctx.sumsText = text;
  ctx.sums = lines;
  ctx.version = archives[0]![1]!;
  return `${lines.length} entries, release ${ctx.version}`;
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}

export async function checkDigests(ctx: ReleaseContext): Promise<string> {
  for (const { name, digest } of ctx.sums ?? []) {
    const file = join(ctx.dir, name);
    let regular = false;
    try {
      regular = lstatSync(file).isFile();
    } catch {
      throw new CheckFailure(name, `${name} is listed in ${SUMS_FILE} but missing`);
    }
    if (!regular) throw new CheckFailure(name, `${name} is not a regular file`);
    if ((await sha256Of(file)) !== digest) throw new CheckFailure(name, `${name} does not match its digest in ${SUMS_FILE}`);
  }
  return `${ctx.sums?.length ?? 0} files match`;
}
