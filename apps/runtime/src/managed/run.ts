// Process spawning for the managed runtime, behind one small adapter so the logic can be tested without it.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type Runner = (cmd: string, args: readonly string[], opts?: { input?: string; asUser?: string; env?: NodeJS.ProcessEnv }) => Promise<RunResult>;

export const runProcess: Runner = async (cmd, args, opts = {}) => {
  // Postgres refuses to run as root: the managed cluster runs as an unprivileged user (R-RT-1).
  const [file, argv] = opts.asUser ? ['runuser', ['-u', opts.asUser, '--', cmd, ...args]] : [cmd, [...args]];
  const res = await execa(file, argv, {
    input: opts.input,
    reject: false,
    env: opts.env,
    extendEnv: opts.env === undefined,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
  });
  return { exitCode: res.exitCode ?? 1, stdout: String(res.stdout ?? ''), stderr: String(res.stderr ?? '') };
};

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** uid and gid of a local user from /etc/passwd, or undefined. */
export function lookupUser(name: string, passwd = '/etc/passwd'): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync(passwd, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] && f[3]) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
