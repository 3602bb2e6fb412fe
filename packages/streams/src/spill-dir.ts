// Prepares the directory audit events are spilled to (R-AUD-1): created 0700, and refused when it is not a
// directory, is open to group or others, or belongs to another user, since spilled events are evidence.
import { mkdirSync, statSync } from 'node:fs';

export class SpillDirError extends Error {
  readonly code = 'CARACAL_SPILL_DIR';
}

/** Creates `dir` (mode 0700) when missing; otherwise checks it. Throws a SpillDirError naming the path. */
export function prepareSpillDir(dir: string, uid: number | undefined = process.getuid?.()): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EEXIST: a non-directory is in the way; the checks below name it.
    if (code !== 'EEXIST') throw new SpillDirError(`${dir} cannot be created (${code ?? (err as Error).message})`);
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new SpillDirError(`${dir} is not a directory`);
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) throw new SpillDirError(`${dir} must have mode 0700, not ${mode.toString(8).padStart(4, '0')}`);
  if (uid !== undefined && st.uid !== uid) throw new SpillDirError(`${dir} belongs to uid ${st.uid}, not to this user (uid ${uid})`);
}
