// The filesystem and process adapter behind the audit spill (R-AUD-1): every side effect the spill has, so its
// logic can be driven against a failing disk in tests. Writes are fsynced before they count as kept.
import { constants } from 'node:fs';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';

export type SpillLog = (level: 'info' | 'warn' | 'error', msg: string, detail: Record<string, unknown>) => void;

export interface AppendFile {
  /** Appends and fsyncs; resolves only once the bytes are on stable storage. */
  append(data: Buffer): Promise<void>;
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
}

export interface SpillFiles {
  list(dir: string): Promise<string[]>;
  size(path: string): Promise<number>;
  /** Opens for appending, creating the file with mode 0600. */
  openAppend(path: string): Promise<AppendFile>;
  read(path: string, offset: number, length: number): Promise<Buffer>;
  /** Appends to a file (created 0600) and fsyncs it; for quarantining corrupt lines. */
  appendDurably(path: string, data: Buffer): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes creations, renames and removals in `dir` durable. */
  syncDir(dir: string): Promise<void>;
  /** Whether a process with this pid exists (signal 0 probes without signalling). */
  alive(pid: number): boolean;
}

const APPEND = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND;

export const nodeSpillFiles: SpillFiles = {
  list: (dir) => readdir(dir),
  size: async (path) => (await stat(path)).size,
  openAppend: async (path) => {
    const fh = await open(path, APPEND, 0o600);
    return {
      append: async (data) => {
        await fh.writeFile(data);
        await fh.sync();
      },
      truncate: async (size) => {
        await fh.truncate(size);
        await fh.sync();
      },
      close: () => fh.close(),
    };
  },
  read: async (path, offset, length) => {
    const fh = await open(path, constants.O_RDONLY);
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  },
  appendDurably: async (path, data) => {
    const fh = await open(path, APPEND, 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  syncDir: async (dir) => {
    const fh = await open(dir, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  alive: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      // EPERM: the process exists but belongs to someone else.
      return (err as NodeJS.ErrnoException).code !== 'ESRCH';
    }
  },
};
