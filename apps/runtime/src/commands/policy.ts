// `caracal policy build <dir|file.rego> [--entrypoint caracal/allow] [--out bundle.tar.gz] [--json]` (R-POL-3):
// compiles a zone policy set with `opa build -t wasm` against the capabilities of the opa-wasm SDK that evaluates it,
// so a policy the SDK cannot run is refused here, at build time.
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { BundleError, buildCapabilities, loadPolicyModule, readBundle, sdkBuiltins } from '@caracal/policy';
import { CliError, EXIT, EXIT_CODES_HELP, UsageError } from '../errors.js';
import { checkErrors, findOpa, opaCurrent, runOpa, type OpaError } from '../policy/opa.js';
import { registerPolicySetCommands } from './admin/policy-set.js';
import { registerPolicySimulate } from './admin/policy-simulate.js';
import type { ProgramResult } from '../program.js';
import type { Io } from './io.js';

export const POLICY_BUILD_EXIT_HELP = `
Exit codes:
  0  bundle written (path, SHA-256 and entrypoints printed)
  1  refused: the Rego does not compile, uses a builtin the policy engine cannot run, or lacks the entrypoint;
     or it could not complete (opa not installed, --out not writable)
  2  usage error (unknown flag, bad --entrypoint, missing input path, --out naming a directory)`;

export const DEFAULT_ENTRYPOINT = 'caracal/allow';
const ENTRYPOINT = /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/;

export interface PolicyBuildReport {
  bundle: string;
  sha256: string;
  bytes: number;
  entrypoints: string[];
  opa: { path: string; version: string };
}

export function entrypointFlag(v: string): string {
  if (!ENTRYPOINT.test(v)) throw new InvalidArgumentError('--entrypoint must be a rule path such as caracal/allow (identifiers separated by /)');
  return v;
}

function checkInput(target: string): void {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw new UsageError(`${target} does not exist`, 'name a directory of .rego files or one .rego file');
  }
  if (!st.isDirectory() && !target.endsWith('.rego')) throw new UsageError(`${target} is neither a directory nor a .rego file`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Claims a temporary file next to `out` (so the final rename cannot cross file systems), or says why it cannot. */
function claimOutput(out: string): string {
  if (isDirectory(out)) throw new UsageError(`--out ${out} is a directory`, '--out names the bundle file to write, e.g. --out policy.tar.gz');
  const temp = join(dirname(out), `.${process.pid}-${Date.now()}.bundle.tmp`);
  try {
    closeSync(openSync(temp, 'wx', 0o644));
  } catch (e) {
    throw new CliError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? 'error'} in ${dirname(out)}`, EXIT.failure, '--out names the bundle file to write, in an existing writable directory');
  }
  return temp;
}

const where = (e: OpaError) => (e.location?.file ? `${e.location.file}:${e.location.row ?? 0}:${e.location.col ?? 0}: ` : '');

/** One compiler error as `file:line:column: code: message`, naming a builtin the SDK cannot run. */
function describe(e: OpaError, opaBuiltins: Set<string>, engineBuiltins: Set<string>): string {
  const line = `${where(e)}${e.code ? `${e.code}: ` : ''}${e.message}`;
  const fn = /^undefined function (\S+)$/.exec(e.message)?.[1];
  if (fn && opaBuiltins.has(fn) && !engineBuiltins.has(fn)) {
    return `${line}\n    builtin ${fn} is refused: the policy engine (opa-wasm) cannot run it; give the policy what it would fetch (time, tokens, remote data) through input`;
  }
  return line;
}

async function compile(opa: string, target: string, entrypoint: string, temp: string, work: string): Promise<{ version: string }> {
  const current = await opaCurrent(opa);
  const caps = join(work, 'capabilities.json');
  writeFileSync(caps, JSON.stringify(buildCapabilities(current.features)));
  const check = await runOpa(opa, ['check', '--format', 'json', '--capabilities', caps, target]);
  if (check.exitCode !== 0) {
    const engine = sdkBuiltins();
    const errors = checkErrors(check).map((e) => describe(e, current.builtins, engine));
    throw new CliError(`policy refused, ${errors.length} error${errors.length === 1 ? '' : 's'}:\n  ${errors.join('\n  ')}`);
  }
  const build = await runOpa(opa, ['build', '-t', 'wasm', '-e', entrypoint, '--capabilities', caps, '-o', temp, target]);
  if (build.exitCode !== 0) throw new CliError(`policy refused: ${(build.stderr.trim() || build.stdout.trim()).replace(/^error: /, '')}`);
  return { version: current.version };
}

/** The bundle must load in the SDK that will evaluate it (same loader, memory maximum included). */
async function selfTest(bytes: Buffer): Promise<{ entrypoints: string[] }> {
  const { wasm, entrypoints } = readBundle(bytes);
  try {
    await loadPolicyModule(wasm);
  } catch (e) {
    throw new CliError(`opa wrote a module the policy engine cannot load: ${(e as Error).message}`);
  }
  return { entrypoints };
}

export async function runPolicyBuild(target: string, opts: { entrypoint?: string; out?: string }, io: Io): Promise<PolicyBuildReport> {
  const entrypoint = opts.entrypoint ?? DEFAULT_ENTRYPOINT;
  checkInput(target);
  const opa = findOpa(io.env);
  const out = resolve(opts.out ?? 'bundle.tar.gz');
  const temp = claimOutput(out);
  const work = mkdtempSync(join(tmpdir(), 'caracal-policy-'));
  try {
    const { version } = await compile(opa, target, entrypoint, temp, work);
    const bytes = readFileSync(temp);
    const { entrypoints } = await selfTest(bytes);
    renameSync(temp, out);
    return { bundle: out, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, entrypoints, opa: { path: opa, version } };
  } catch (e) {
    if (e instanceof BundleError) throw new CliError(`opa wrote an unusable bundle: ${e.message}`);
    throw e;
  } finally {
    rmSync(temp, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

export function printPolicyBuild(r: PolicyBuildReport, io: Io, json: boolean): void {
  if (json) return io.out.json(r);
  io.out.data(`bundle       ${r.bundle}\nsha256       ${r.sha256}\nentrypoints  ${r.entrypoints.join(', ')}`);
}

export function registerPolicyCommands(program: Command, io: Io, result: ProgramResult): void {
  const policy = program.command('policy').description('zone policy sets: Rego compiled to wasm, evaluated on top of the built-in contract').addHelpText('after', EXIT_CODES_HELP);
  policy
    .command('build')
    .description('compile Rego into a wasm bundle with opa (.tools/go-bin/opa of this checkout, else opa on PATH), refusing builtins the policy engine cannot run; prints the bundle path, SHA-256 and entrypoints')
    .argument('<path>', 'a directory of .rego (and data.json) files, or one .rego file')
    .option('--entrypoint <rule>', `rule the bundle exports (default ${DEFAULT_ENTRYPOINT})`, entrypointFlag)
    .option('--out <file>', 'bundle to write (default ./bundle.tar.gz; replaced if it exists)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', POLICY_BUILD_EXIT_HELP)
    .action(async (target: string, opts) => printPolicyBuild(await runPolicyBuild(target, opts, io), io, opts.json));
  registerPolicySetCommands(policy, io, (target, opts) => runPolicyBuild(target, opts, io), entrypointFlag);
  registerPolicySimulate(policy, io, result);
}
