// `caracal evidence-pack [--out DIR] [--previous PACK] [--json]` and `caracal evidence-pack verify <pack> [--key PUB]`
// (R-EVD-1): run every evidence check read-only, write the signed pack and its archive; verify one offline.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { CliError, EXIT } from '../errors.js';
import type { CheckDefinition, EvidenceContext } from '../evidence/check.js';
import { closeDependencies, connectDatabase, connectRedis } from '../evidence/connect.js';
import { loadEvidenceKey } from '../evidence/key.js';
import type { PackMeta } from '../evidence/manifest.js';
import { assertOutFree, writePack } from '../evidence/pack-writer.js';
import { PackUnreadable } from '../evidence/pack-files.js';
import { readPrevious } from '../evidence/previous.js';
import { exitOf, runChecks } from '../evidence/run.js';
import { verifyPack, type VerifyReport } from '../evidence/verify.js';
import { SOURCE_FILE } from '../release/format.js';
import { KeyFileError, loadPublicKey } from '../release/keys.js';
import { loadContext } from '../stack/context.js';
import { cliVersion } from '../version.js';
import type { Io } from './io.js';

export const EVIDENCE_PACK_EXIT_HELP = `
Exit codes:
  0  the pack was written and no check FAILed (SKIPPED checks say why)
  1  the pack was written and a check FAILed (named in REPORT.md and on stderr)
  2  the pack could not be built (usage error, not initialised, missing evidence key: run \`caracal init\`,
     --out or its .tar.gz exists or is not writable, --previous is not a pack or fails its own verification);
     nothing is left behind`;

export const EVIDENCE_VERIFY_EXIT_HELP = `
Exit codes:
  0  every digest matches and the signature is valid
  1  a file was added, removed, renamed or altered, or the signature is bad or replaced (each one named)
  2  could not run (no such path, not a pack directory or tar.gz, an archive entry refused, bad --key file)`;

export interface EvidencePackSummary {
  path: string;
  archive: string;
  checks: Array<{ id: string; status: string; reason: string }>;
  exit: number;
}

/** `YYYYMMDDTHHMMSSZ`, the pack's default name stamp. */
export const utcStamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');

/** Where the pack goes, refused early (before any check runs) when it exists or its parent is not writable. */
function outDir(out: string | undefined, now: Date, cwd: string): string {
  const dir = resolve(cwd, out ?? `caracal-evidence-${utcStamp(now)}`);
  assertOutFree(dir);
  try {
    if (!statSync(dirname(dir)).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
    accessSync(dirname(dir), constants.W_OK);
  } catch (e) {
    throw new CliError(`cannot write the evidence pack in ${dirname(dir)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, EXIT.usage, 'choose an --out directory whose parent exists and is writable');
  }
  return dir;
}

/** The commit an installed release was built from (its release-source.json), else the checkout's HEAD. */
function gitSha(root: string): string | null {
  try {
    const recorded = (JSON.parse(readFileSync(join(root, SOURCE_FILE), 'utf8')) as { gitSha?: unknown }).gitSha;
    if (typeof recorded === 'string' && /^[0-9a-f]{40}$/.test(recorded)) return recorded;
  } catch {
    // not an installed release: ask git
  }
  try {
    return execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim() || null;
  } catch {
    return null;
  }
}

function operator(env: NodeJS.ProcessEnv): PackMeta['operator'] {
  try {
    const u = userInfo();
    return { user: u.username, uid: u.uid >= 0 ? u.uid : null };
  } catch {
    // No passwd entry (some containers): the environment is all there is.
    return { user: env.USER ?? env.LOGNAME ?? 'unknown', uid: process.getuid?.() ?? null };
  }
}

/** Every failure to start is exit 2: the pack cannot be built. */
function context(env: NodeJS.ProcessEnv) {
  try {
    return loadContext(env);
  } catch (e) {
    if (e instanceof CliError) throw new CliError(e.message, EXIT.usage, e.hint);
    throw e;
  }
}

export async function runEvidencePack(opts: { out?: string; previous?: string }, io: Io, checks: readonly CheckDefinition[], cwd = process.cwd()): Promise<EvidencePackSummary> {
  const stack = context(io.env);
  const key = loadEvidenceKey(stack.home.secretsDir);
  const started = new Date(Math.floor(Date.now() / 1000) * 1000);
  const dir = outDir(opts.out, started, cwd);
  const previous = opts.previous ? await io.out.step(`verify --previous ${opts.previous}`, () => readPrevious(opts.previous!, key.publicKey)) : null;
  const db = await connectDatabase(stack.home.secretsDir);
  const redis = await connectRedis(stack.home.secretsDir, stack.settings.CARACAL_REDIS_KEY_PREFIX);
  for (const [name, dep] of [['Postgres', db], ['Redis', redis]] as const) if (!dep.ok) io.out.warn(`${name}: ${dep.reason}; the checks that need it are SKIPPED`);
  const ctx: EvidenceContext = { ...stack, now: () => new Date(), db, redis, previous };
  let run;
  try {
    run = await runChecks(checks, ctx, (r) => io.out.info(`${r.status.padEnd(7)} ${r.id}: ${r.reason}`));
  } finally {
    await closeDependencies(db, redis);
  }
  const meta: PackMeta = {
    generated_at: started.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    version: cliVersion(),
    git_sha: gitSha(stack.root),
    host: hostname(),
    operator: operator(io.env),
    key_fingerprint: key.fingerprint,
  };
  const written = await writePack({
    dir,
    meta,
    results: run.results,
    heads: run.heads,
    previous: previous && { path: previous.path, generated_at: previous.generatedAt },
    key,
    threatModelFile: join(stack.root, 'governance', 'THREAT_MODEL.md'),
  });
  return { path: written.dir, archive: written.archive, checks: run.results.map(({ id, status, reason }) => ({ id, status, reason })), exit: exitOf(run.results) };
}

export function printEvidencePack(s: EvidencePackSummary, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(s);
  const failed = s.checks.filter((c) => c.status === 'FAIL').map((c) => c.id);
  io.out.data(`evidence pack: ${s.path}`);
  io.out.data(`archive: ${s.archive}`);
  io.out.data(failed.length ? `FAIL: ${failed.join(', ')}` : `no check failed (${s.checks.length} checks)`);
}

function trustedKey(file: string): KeyObject {
  try {
    return loadPublicKey(resolve(file));
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError(e.message, EXIT.usage, '--key names the installation\'s evidence public key (PEM, ECDSA P-256)');
    throw e;
  }
}

export async function runEvidenceVerify(target: string, opts: { key?: string }): Promise<VerifyReport> {
  const key = opts.key ? trustedKey(opts.key) : undefined;
  try {
    return (await verifyPack(resolve(target), key ? { key } : {})).report;
  } catch (e) {
    if (e instanceof PackUnreadable) throw new CliError(`cannot verify ${target}: ${e.message}`, EXIT.usage);
    throw e;
  }
}

export function printEvidenceVerify(r: VerifyReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(r);
  for (const f of r.findings) io.out.data(`${f.kind.toUpperCase().padEnd(9)} ${f.path}  ${f.detail}`);
  const by = r.key.source === '--key' ? `key ${r.key.fingerprint} (--key)` : `the pack's own key ${r.key.fingerprint ?? '(none)'}; pass --key to pin the installation's key`;
  io.out.data(r.ok ? `evidence pack verified: ${r.files} files, signed by ${by}` : `evidence pack NOT verified: ${r.findings.length} problem(s); checked with ${by}`);
}
