// `caracal verify-release <dir|archive> [--key PUB] [--json]` (R-REL-2): offline verification of a release.
// Exit 0 every check passed, 1 a check failed (named with its file), 2 it could not run.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { CliError, EXIT, UsageError } from '../errors.js';
import { RECEIPT_FILE } from '../release/format.js';
import { cliVersion, installRoot } from '../version.js';
import { KeyFileError, loadPublicKey, pinnedKeyPath } from '../release/keys.js';
import type { VerifyReport } from '../release/verify/run.js';
import type { Io } from './io.js';

export const VERIFY_RELEASE_EXIT_HELP = `
Exit codes:
  0  every check passed
  1  a check failed (the first failure is named with its file)
  2  could not run (missing directory, unreadable file, bad key file) or usage error`;

/** A release is a directory; an archive path means the release directory it sits in. */
export function releaseDirOf(target: string): string {
  const path = resolve(target);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new CliError(`${target} does not exist`, EXIT.usage);
  }
  if (st.isDirectory()) return path;
  const head = Buffer.alloc(2);
  try {
    const fd = openSync(path, 'r');
    try {
      readSync(fd, head, 0, 2, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new CliError(`cannot read ${target}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, EXIT.usage);
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) throw new CliError(`${target} is neither a release directory nor a gzip archive`, EXIT.usage);
  return dirname(path);
}

function trustedKey(file: string | undefined): KeyObject {
  try {
    return loadPublicKey(file ? resolve(file) : pinnedKeyPath());
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError(e.message, EXIT.usage, file ? '--key names the release public key (PEM, ECDSA P-256)' : undefined);
    throw e;
  }
}

/** The installation this CLI runs from, against the receipt install.sh wrote into it. */
async function runVerifyInstalled(env: NodeJS.ProcessEnv): Promise<VerifyReport> {
  const root = installRoot(env);
  let receipt: string;
  try {
    receipt = readFileSync(join(root, RECEIPT_FILE), 'utf8');
  } catch {
    throw new CliError(`${root} is not an installed release: it has no ${RECEIPT_FILE}`, EXIT.usage, 'install with installers/install.sh, or verify a release directory');
  }
  const { verifyInstalled } = await import('../release/verify/installed.js');
  return verifyInstalled(root, receipt, cliVersion());
}

export async function runVerifyRelease(target: string | undefined, opts: { key?: string; installed?: boolean }, io: Io): Promise<VerifyReport> {
  if (opts.installed) {
    if (target) throw new UsageError('give either a release or --installed, not both');
    return runVerifyInstalled(io.env);
  }
  if (!target) throw new UsageError('name a release directory or archive, or pass --installed');
  const key = trustedKey(opts.key);
  const dir = releaseDirOf(target);
  // Loaded here, not at startup: the Sigstore libraries are only needed by this command.
  const { verifyRelease } = await import('../release/verify/run.js');
  try {
    return await verifyRelease(dir, key);
  } catch (e) {
    throw new CliError(`cannot verify ${dir}: ${(e as Error).message}`, EXIT.usage);
  }
}

export function printVerifyRelease(r: VerifyReport, io: Io, json: boolean): void {
  if (json) return io.out.json(r);
  for (const c of r.checks) io.out.data(`${c.status.padEnd(7)} ${c.check.padEnd(20)} ${c.file ?? ''}${c.detail && c.status !== 'SKIPPED' ? `  ${c.detail}` : ''}`);
  const subject = r.checks[0]?.check === 'receipt' ? 'installation' : 'release';
  if (r.firstFailure) io.out.data(`${subject} NOT verified: ${r.firstFailure.check} failed on ${r.firstFailure.file}`);
  else io.out.data(`${subject} ${r.version} verified`);
}
