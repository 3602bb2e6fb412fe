// Reads one secret file with the checks an operator expects: readable, non-empty, not world-writable (R-SEC-2).
import { readFileSync, statSync } from 'node:fs';

export type SecretFileResult = { ok: true; value: string } | { ok: false; problem: string };

export function readSecretFile(path: string): SecretFileResult {
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return { ok: false, problem: `${path} is not a regular file` };
    mode = st.mode;
  } catch (err) {
    return { ok: false, problem: `${path} cannot be read (${describeFsError(err)})` };
  }
  // A secret anybody can rewrite is not a secret: refuse rather than trust it.
  if ((mode & 0o002) !== 0) return { ok: false, problem: `${path} is world-writable (mode ${(mode & 0o777).toString(8)})` };
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, problem: `${path} cannot be read (${describeFsError(err)})` };
  }
  // Generated secrets carry no newline; files written by hand often end with one.
  const value = raw.replace(/\r?\n$/, '');
  if (value.length === 0) return { ok: false, problem: `${path} is empty` };
  if (/[\r\n]/.test(value)) return { ok: false, problem: `${path} holds more than one line` };
  return { ok: true, value };
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return code ?? 'unknown error';
}
