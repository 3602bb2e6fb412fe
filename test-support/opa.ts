// Real Rego compiled by the real `opa` (built by scripts/setup-tools.sh into the git-ignored .tools/go-bin). Tests
// that need it fail, never skip, when it is missing: CI builds it before the suites run.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { caracal, REPO } from './cli.js';

export const OPA = join(REPO, '.tools', 'go-bin', 'opa');

export function requireOpa(): string {
  if (!existsSync(OPA)) throw new Error(`${OPA} is missing: run \`bash scripts/setup-tools.sh\` (it builds opa; CI runs it first)`);
  return OPA;
}

export interface PolicyDir {
  dir: string;
  /** Writes files (path relative to the directory → content) and returns the directory. */
  write: (files: Record<string, string>) => string;
  remove: () => void;
}

export function policyDir(label: string): PolicyDir {
  const dir = mkdtempSync(join(tmpdir(), `caracal-policy-${label}-`));
  return {
    dir,
    write: (files) => {
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
      return dir;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `caracal policy build <input> --out <out> --json`; throws with the CLI's stderr when it does not exit 0. */
export async function buildBundle(input: string, out: string, entrypoint = 'caracal/allow'): Promise<{ bundle: string; sha256: string; entrypoints: string[]; bytes: Buffer }> {
  requireOpa();
  const r = await caracal(['policy', 'build', input, '--entrypoint', entrypoint, '--out', out, '--json'], {});
  if (r.exitCode !== 0) throw new Error(`caracal policy build exited ${r.exitCode}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as { bundle: string; sha256: string; entrypoints: string[] };
  return { ...report, bytes: readFileSync(report.bundle) };
}
