// `caracal logs [service] [-f] [-n N]`: print the last lines of a service log (all services when omitted).
import { closeSync, existsSync, openSync, readSync, statSync, watchFile, unwatchFile } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { homeLayout } from '../stack/context.js';
import type { Io } from './io.js';

export const LOG_SOURCES = ['api', 'coordinator', 'sts', 'gateway', 'audit', 'supervisor', 'redis'] as const;

export interface LogsOptions {
  follow?: boolean;
  lines?: number;
}

function tail(path: string, n: number): string[] {
  if (!existsSync(path)) return [];
  const size = statSync(path).size;
  const chunk = Math.min(size, Math.max(64 * 1024, n * 512));
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(chunk);
    readSync(fd, buf, 0, chunk, size - chunk);
    const lines = buf.toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    if (chunk < size) lines.shift(); // first line may be cut
    return lines.slice(-n);
  } finally {
    closeSync(fd);
  }
}

export async function runLogs(service: string | undefined, opts: LogsOptions, io: Io, signal?: AbortSignal): Promise<void> {
  if (service !== undefined && !(LOG_SOURCES as readonly string[]).includes(service)) {
    throw new UsageError(`unknown service '${service}'; expected one of ${LOG_SOURCES.join(', ')}`);
  }
  const home = homeLayout(io.env);
  const n = opts.lines ?? 100;
  const sources = service ? [service] : [...LOG_SOURCES];
  const files = sources.map((s) => ({ s, path: join(home.logsDir, `${s}.log`) }));
  for (const f of files) {
    for (const line of tail(f.path, n)) io.out.data(sources.length > 1 ? `${f.s.padEnd(11)} | ${line}` : line);
  }
  if (!opts.follow) return;
  const offsets = new Map(files.map((f) => [f.path, existsSync(f.path) ? statSync(f.path).size : 0]));
  for (const f of files) {
    watchFile(f.path, { interval: 250 }, (cur) => {
      const from = offsets.get(f.path) ?? 0;
      if (cur.size < from) offsets.set(f.path, 0);
      if (cur.size <= from) return;
      const fd = openSync(f.path, 'r');
      try {
        const buf = Buffer.alloc(cur.size - from);
        readSync(fd, buf, 0, buf.length, from);
        offsets.set(f.path, cur.size);
        for (const line of buf.toString('utf8').split('\n').filter(Boolean)) io.out.data(sources.length > 1 ? `${f.s.padEnd(11)} | ${line}` : line);
      } finally {
        closeSync(fd);
      }
    });
  }
  await new Promise<void>((resolve) => {
    const done = () => {
      for (const f of files) unwatchFile(f.path);
      resolve();
    };
    signal?.addEventListener('abort', done, { once: true });
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
