// Output conventions (R-CLI): data on stdout, progress on stderr, colour only on a TTY without NO_COLOR.
import type { Writable } from 'node:stream';

export interface Output {
  data: (text: string) => void;
  json: (value: unknown) => void;
  info: (text: string) => void;
  warn: (text: string) => void;
  /** Runs a long step, printing its name and elapsed time on stderr. */
  step: <T>(label: string, fn: () => Promise<T>) => Promise<T>;
  colour: boolean;
  interactive: boolean;
}

export interface OutputStreams {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  now?: () => number;
}

export function createOutput(s: OutputStreams): Output {
  const colour = Boolean(s.stderr.isTTY) && !s.env.NO_COLOR && s.env.TERM !== 'dumb';
  const paint = (code: string, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const now = s.now ?? Date.now;
  return {
    colour,
    interactive: s.stdinIsTTY && Boolean(s.stdout.isTTY) && !s.env.CI,
    data: (text) => void s.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    json: (value) => void s.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    info: (text) => void s.stderr.write(`${text}\n`),
    warn: (text) => void s.stderr.write(`${paint('33', 'warning:')} ${text}\n`),
    step: async (label, fn) => {
      const started = now();
      s.stderr.write(`${paint('36', '•')} ${label} …\n`);
      try {
        const result = await fn();
        s.stderr.write(`${paint('32', '✓')} ${label} (${((now() - started) / 1000).toFixed(1)} s)\n`);
        return result;
      } catch (err) {
        s.stderr.write(`${paint('31', '✗')} ${label} (${((now() - started) / 1000).toFixed(1)} s)\n`);
        throw err;
      }
    },
  };
}

/** Renders rows as an aligned plain-text table. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
