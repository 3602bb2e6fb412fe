// pidExiting: `up` waits on it after a leftover worker's cmdline reads empty, until the process is a zombie (its
// sockets closed) or gone; a live process is "exiting" in that sense, a zombie and a missing PID are not.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pidExiting } from '../../src/supervisor/worker-process.js';

describe.runIf(existsSync('/proc/self/stat'))('pidExiting', () => {
  it('is true for a live process, false for a zombie and for a PID that does not exist', async () => {
    expect(pidExiting(process.pid)).toBe(true);
    expect(pidExiting(2 ** 22 + 7)).toBe(false);
    // A background job that ends half a second later, when the shell has long become `sleep`, which never reaps
    // it: a zombie. (Ending at once, the shell itself could reap it before the exec.)
    const parent = spawn('sh', ['-c', 'sleep 0.5 & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d).trim()))));
      for (let i = 0; i < 400 && pidExiting(zombie); i++) await new Promise((r) => setTimeout(r, 20));
      expect(pidExiting(zombie)).toBe(false);
      expect(existsSync(`/proc/${zombie}`)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
