// The stack lock (R-HOME-1): one operation at a time; a lock whose holder died is taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { CliError } from '../errors.js';

export interface Lock {
  release: () => void;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLock(path: string, operation: string, pid: number = process.pid): Lock {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${pid}\n${operation}\n`);
      closeSync(fd);
      return {
        release: () => {
          try {
            if (readFileSync(path, 'utf8').split('\n')[0] === String(pid)) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const [holderRaw, holderOp] = safeRead(path).split('\n');
    const holder = Number(holderRaw);
    if (pidAlive(holder) && holder !== pid) {
      throw new CliError(`another caracal operation (${holderOp || 'unknown'}) holds the lock: PID ${holder}`, 1, `wait for it to finish, or stop PID ${holder}`);
    }
    // Stale: the holder is gone. Remove and retry; 'wx' keeps the takeover race-free.
    try {
      unlinkSync(path);
    } catch {
      // someone else took it over first; retry
    }
  }
  throw new CliError(`could not take the lock ${path}`);
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
