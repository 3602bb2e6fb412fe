// The `opa` that `caracal policy build` runs, and the three calls it makes: `opa capabilities --current` (the
// compiler's language features and builtin names), `opa check --format json` (compile errors with file, line and
// column) and `opa build -t wasm`.
import { join } from 'node:path';
import { execa } from 'execa';
import { CliError, EXIT } from '../errors.js';
import { executable, which } from '../managed/binaries.js';
import { installRoot } from '../version.js';

/** The version scripts/setup-tools.sh builds, and the one the install hint names. */
export const OPA_VERSION = 'v1.22.4';
const GO_INSTALL = `go install github.com/open-policy-agent/opa@${OPA_VERSION}`;
const OPA_TIMEOUT_MS = 120_000;

/**
 * Lookup order: the checkout's git-ignored .tools/go-bin/opa (what `bash scripts/setup-tools.sh` builds; the
 * checkout is the install root, CARACAL_INSTALL_ROOT when set), then `opa` on PATH.
 */
export function findOpa(env: NodeJS.ProcessEnv): string {
  const local = join(installRoot(env), '.tools', 'go-bin', 'opa');
  const found = executable(local) ? local : which('opa', env);
  if (found) return found;
  throw new CliError(
    `opa is not installed: neither ${local} nor opa on PATH`,
    EXIT.failure,
    `in a Caracal checkout run \`bash scripts/setup-tools.sh\` (builds opa ${OPA_VERSION} into .tools/go-bin); elsewhere run \`${GO_INSTALL}\` and put $(go env GOPATH)/bin on PATH`,
  );
}

export interface OpaRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runOpa(opa: string, args: readonly string[]): Promise<OpaRun> {
  const res = await execa(opa, args, { reject: false, stdin: 'ignore', timeout: OPA_TIMEOUT_MS });
  if (res.timedOut) throw new CliError(`opa ${args[0]} did not finish within ${OPA_TIMEOUT_MS / 1000} s`);
  if (res.exitCode === undefined) throw new CliError(`cannot run ${opa}: ${res.shortMessage ?? 'error'}`);
  return { exitCode: res.exitCode, stdout: String(res.stdout ?? ''), stderr: String(res.stderr ?? '') };
}

export interface OpaCurrent {
  version: string;
  features: string[];
  builtins: Set<string>;
}

/** The running opa's version, language features and every builtin it knows. */
export async function opaCurrent(opa: string): Promise<OpaCurrent> {
  const [caps, version] = await Promise.all([runOpa(opa, ['capabilities', '--current']), runOpa(opa, ['version'])]);
  if (caps.exitCode !== 0) throw new CliError(`${opa} capabilities --current failed: ${caps.stderr.trim()}`);
  const parsed = JSON.parse(caps.stdout) as { features?: string[]; builtins?: { name: string }[] };
  return {
    version: /^Version: *(\S+)/m.exec(version.stdout)?.[1] ?? 'unknown',
    features: parsed.features ?? [],
    builtins: new Set((parsed.builtins ?? []).map((b) => b.name)),
  };
}

export interface OpaError {
  message: string;
  code?: string;
  location?: { file?: string; row?: number; col?: number };
}

/** Errors of a failed `opa check --format json`, or one error holding its raw output when that is not JSON. */
export function checkErrors(run: OpaRun): OpaError[] {
  for (const text of [run.stdout, run.stderr]) {
    try {
      const errors = (JSON.parse(text) as { errors?: OpaError[] }).errors;
      if (Array.isArray(errors) && errors.length > 0) return errors;
    } catch {
      // not the JSON report: try the other stream
    }
  }
  return [{ message: (run.stderr || run.stdout).trim() || `opa check exited ${run.exitCode}` }];
}
