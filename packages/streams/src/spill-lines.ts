// The spill file format: one signed audit message `{"data":…,"sig":…}` per line (NDJSON, R-AUD-1, R-STR-3).
import type { SignedAudit } from './publish.js';

export interface SpillLine {
  /** Absolute offset just past this line (and its newline). */
  end: number;
  /** The line without its newline. */
  text: Buffer;
  /** The message, or undefined when the line is corrupt. */
  message: SignedAudit | undefined;
}

const NEWLINE = 0x0a;
const SIG = /^[0-9a-f]{64}$/;

export function encodeSpillLine(message: SignedAudit): Buffer {
  return Buffer.from(`${JSON.stringify({ data: message.data, sig: message.sig })}\n`, 'utf8');
}

/** A line is a message only when it is a JSON object with a string `data` and a hex `sig`. */
export function parseSpillLine(text: string): SignedAudit | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { data, sig } = value as Record<string, unknown>;
  return typeof data === 'string' && typeof sig === 'string' && SIG.test(sig) ? { data, sig } : undefined;
}

/**
 * Splits `buf` (read at absolute offset `base`) into complete lines. At the end of a file a final line without a
 * newline (a torn write) is returned too, so it is judged like any other line. Blank lines come back with an
 * empty `text`: neither a message nor corrupt.
 */
export function splitSpillLines(buf: Buffer, base: number, atEof: boolean): SpillLine[] {
  const lines: SpillLine[] = [];
  let start = 0;
  for (let i = buf.indexOf(NEWLINE); i !== -1; i = buf.indexOf(NEWLINE, start)) {
    pushLine(lines, buf.subarray(start, i), base + i + 1);
    start = i + 1;
  }
  if (atEof && start < buf.length) pushLine(lines, buf.subarray(start), base + buf.length);
  return lines;
}

function pushLine(lines: SpillLine[], text: Buffer, end: number): void {
  lines.push({ end, text, message: text.length === 0 ? undefined : parseSpillLine(text.toString('utf8')) });
}

/** Counts non-empty lines over successive chunks of one file. */
export class LineCounter {
  private complete = 0;
  private inLine = false;

  add(chunk: Buffer): void {
    let start = 0;
    for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, start)) {
      if (i > start || this.inLine) this.complete++;
      this.inLine = false;
      start = i + 1;
    }
    if (start < chunk.length) this.inLine = true;
  }

  get count(): number {
    return this.complete + (this.inLine ? 1 : 0);
  }
}
