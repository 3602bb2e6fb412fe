// Runs the real `caracal` CLI as a process against a temporary CARACAL_HOME.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export const REPO = join(import.meta.dirname, '..');
export const CLI = join(REPO, 'apps', 'runtime', 'bin', 'caracal.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function caracal(args: readonly string[], env: Record<string, string | undefined>, opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  const res = await execa(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, NO_COLOR: '1', CI: '1', ...env },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: opts.timeoutMs ?? 180_000,
  });
  return { exitCode: res.exitCode ?? 1, stdout: String(res.stdout), stderr: String(res.stderr) };
}

export function tempHome(label = 'home'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `caracal-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
