// One step of replaying a spill file (R-AUD-1): read the next lines from where the last step stopped, publish
// the messages in order, set corrupt lines aside, and move the offset past what is settled. A crash after
// publishing and before the offset is recorded re-publishes the same signed messages: the audit service is
// idempotent on event id (R-AUD-2), so a duplicate is harmless, while a gap would not be.
import type { SignedAudit } from './publish.js';
import type { SpillFiles } from './spill-files.js';
import { splitSpillLines, type SpillLine } from './spill-lines.js';

export interface SpillTarget {
  path: string;
  /** Bytes before this offset are published or set aside. */
  offset: number;
  size: number;
  /** Non-empty lines not yet published or set aside. */
  pending: number;
}

export interface ReplayDeps {
  files: SpillFiles;
  /** Publishes in order; resolves with how many leading messages were published. */
  publish: (messages: SignedAudit[]) => Promise<number>;
  /** Keeps a corrupt line somewhere an operator can find it. */
  quarantine: (target: SpillTarget, line: SpillLine) => Promise<void>;
  chunkBytes: number;
}

export interface StepResult {
  published: number;
  corrupt: number;
  /** Publishing stopped short; try again later. */
  failed: boolean;
}

export async function replayStep(target: SpillTarget, deps: ReplayDeps): Promise<StepResult> {
  const lines = await readLines(target, deps);
  // Nothing left to read although the size said otherwise: the file is shorter than recorded.
  if (lines.length === 0) target.size = target.offset;
  const messages = lines.filter((l) => l.message !== undefined);
  const published = messages.length === 0 ? 0 : await deps.publish(messages.map((l) => l.message!));
  // Settled: every line before the first message that was not published.
  const settled = published === messages.length ? lines : lines.slice(0, lines.indexOf(messages[published]!));
  let corrupt = 0;
  for (const line of settled) {
    if (line.message !== undefined || line.text.length === 0) continue;
    await deps.quarantine(target, line);
    corrupt++;
  }
  if (settled.length > 0) target.offset = settled[settled.length - 1]!.end;
  target.pending -= published + corrupt;
  return { published, corrupt, failed: published < messages.length };
}

/** Reads whole lines from the offset; a line longer than a chunk makes the read grow until it fits. */
async function readLines(target: SpillTarget, deps: ReplayDeps): Promise<SpillLine[]> {
  const remaining = target.size - target.offset;
  for (let length = Math.min(deps.chunkBytes, remaining); ; length = Math.min(length * 2, remaining)) {
    const buf = await deps.files.read(target.path, target.offset, length);
    const atEof = buf.length < length || target.offset + buf.length >= target.size;
    const lines = splitSpillLines(buf, target.offset, atEof);
    if (lines.length > 0 || atEof) return lines;
  }
}
