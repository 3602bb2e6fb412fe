// Replaces a file that other processes may be reading at that moment: never truncated in place. The same bytes
// leave the file as it is and only mark it current (its modification time, which freshestEntry compares); new bytes
// are written beside it and renamed over it, so a reader opens either the old file or the new one, whole.
import { readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';

/** Makes `file` hold `bytes`; returns whether its content changed. */
export function replaceFile(file, bytes) {
  let current;
  try {
    current = readFileSync(file);
  } catch {
    // not there yet
  }
  if (current?.equals(bytes)) {
    const now = new Date();
    utimesSync(file, now, now);
    return false;
  }
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, bytes);
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
  return true;
}
