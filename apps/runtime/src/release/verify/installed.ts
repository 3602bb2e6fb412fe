// `caracal verify-release --installed`: the installation the CLI runs from against the receipt install.sh wrote
// (R-REL-3): every listed file present with its digest, every listed link a link, and nothing unlisted.
import { lstatSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RECEIPT_FILE } from '../format.js';
import { sha256Of } from './check-sums.js';
import { CheckFailure } from './context.js';
import { runChecks, type Check, type VerifyReport } from './run.js';

interface InstalledContext {
  /** <prefix>/lib/caracal/<version>: paths in the receipt are relative to <prefix>. */
  root: string;
  prefix: string;
  receiptText: string;
  files?: Map<string, string>;
  links?: Set<string>;
}

const ENTRY = /^([0-9a-f]{64}|link|self) {2}(.+)$/;

function parseReceipt(ctx: InstalledContext): string {
  const files = new Map<string, string>();
  const links = new Set<string>();
  const mine = `${relative(ctx.prefix, ctx.root)}/`;
  ctx.receiptText.split('\n').forEach((line, i) => {
    if (line === '' || line.startsWith('#')) return;
    const m = ENTRY.exec(line);
    const path = m?.[2] ?? '';
    const inside = path.startsWith(mine) || (m?.[1] === 'link' && path === 'bin/caracal');
    if (!m || !inside || path.split('/').includes('..')) throw new CheckFailure(RECEIPT_FILE, `${RECEIPT_FILE} line ${i + 1} is not an entry of this installation`);
    if (m[1] === 'link') links.add(path);
    else if (m[1] !== 'self') files.set(path, m[1]!);
  });
  ctx.files = files;
  ctx.links = links;
  return `${files.size} files, ${links.size} links`;
}

async function checkFiles(ctx: InstalledContext): Promise<string> {
  for (const [path, digest] of ctx.files ?? []) {
    const st = lstatSync(join(ctx.prefix, path), { throwIfNoEntry: false });
    if (!st?.isFile()) throw new CheckFailure(path, `${path} is ${st ? 'not a regular file' : 'missing'}`);
    if ((await sha256Of(join(ctx.prefix, path))) !== digest) throw new CheckFailure(path, `${path} does not match its digest in ${RECEIPT_FILE}`);
  }
  for (const path of ctx.links ?? []) {
    if (!lstatSync(join(ctx.prefix, path), { throwIfNoEntry: false })?.isSymbolicLink()) throw new CheckFailure(path, `${path} is not the link the installer made`);
  }
  return `${ctx.files?.size ?? 0} files match`;
}

function checkUnlisted(ctx: InstalledContext): string {
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const abs = join(dir, e.name);
      const rel = relative(ctx.prefix, abs);
      if (e.isDirectory()) walk(abs);
      else if (!ctx.files?.has(rel) && !ctx.links?.has(rel) && e.name !== RECEIPT_FILE) throw new CheckFailure(rel, `${rel} is in the installation but not in ${RECEIPT_FILE}`);
    }
  };
  walk(ctx.root);
  return 'nothing unlisted';
}

const CHECKS: readonly Check<InstalledContext>[] = [
  { id: 'receipt', file: () => RECEIPT_FILE, run: parseReceipt },
  { id: 'installed-files', file: () => RECEIPT_FILE, run: checkFiles },
  { id: 'unlisted-files', file: () => RECEIPT_FILE, run: checkUnlisted },
];

export async function verifyInstalled(root: string, receiptText: string, version: string): Promise<VerifyReport> {
  const ctx: InstalledContext = { root, prefix: join(root, '..', '..', '..'), receiptText };
  const r = await runChecks(CHECKS, ctx);
  return { ok: !r.firstFailure, dir: root, version, ...r };
}
