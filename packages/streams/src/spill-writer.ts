// The spill file of this process (R-AUD-1): messages are appended with one write and one fsync for every group
// of emits that arrive together, refused beyond the byte cap, and the file is removed once all of it is published.
import type { SignedAudit } from './publish.js';
import type { SerialQueue } from './serial-queue.js';
import type { AppendFile, SpillFiles, SpillLog } from './spill-files.js';
import { encodeSpillLine } from './spill-lines.js';
import type { SpillTarget } from './spill-replay.js';

export interface SpillWriterOptions {
  dir: string;
  files: SpillFiles;
  /** Every file operation of one emitter runs through this queue. */
  queue: SerialQueue;
  maxBytes: number;
  /** Bytes of the emitter's other spill files (adopted ones), which count against the cap as well. */
  otherBytes: () => number;
  freshPath: () => string;
  lose: (ids: readonly string[], reason: string, detail: Record<string, unknown>) => void;
  /** Removes a file and makes the removal durable. */
  remove: (path: string) => Promise<void>;
  log: SpillLog;
}

interface OwnFile extends SpillTarget {
  file?: AppendFile;
}

interface Waiting {
  line: Buffer;
  id: string;
  kept: () => void;
}

export class SpillWriter {
  private own: OwnFile | undefined;
  private waiting: Waiting[] = [];
  private holding = false;

  constructor(private readonly opts: SpillWriterOptions) {}

  /** True while events must go to the spill, so that none overtakes one spilled before it. */
  get active(): boolean {
    return this.holding;
  }

  /** The file being written, while there is one. */
  get target(): SpillTarget | undefined {
    return this.own;
  }

  /** Resolves once the message is fsynced to the spill file, or counted as lost. Never rejects. */
  keep(message: SignedAudit, id: string): Promise<void> {
    if (!this.holding) this.opts.log('warn', 'audit events cannot be published; keeping them in the spill', { dir: this.opts.dir });
    this.holding = true;
    return new Promise((kept) => {
      // Group commit: emits arriving while a write runs share the next write and fsync.
      if (this.waiting.push({ line: encodeSpillLine(message), id, kept }) === 1) void this.opts.queue.run(() => this.flush());
    });
  }

  /**
   * Called inside the queue once the file may be fully published: removes it, and lets new events go straight to
   * Redis again when nothing is waiting. Lines still waiting go to a fresh file: a file is never emptied in place,
   * where a failed truncate would leave published lines in front of new ones.
   */
  async settle(): Promise<void> {
    const own = this.own;
    if (own && own.offset >= own.size) {
      await own.file?.close().catch(() => undefined);
      this.own = undefined;
      await this.opts.remove(own.path);
      if (own.size > 0) this.opts.log('info', 'spilled audit events are published', { file: own.path });
    }
    this.holding = this.own !== undefined || this.waiting.length > 0;
  }

  /** Closes the file; what it holds stays on disk. Run inside the queue. */
  async close(): Promise<void> {
    await this.own?.file?.close().catch(() => undefined);
    if (this.own) this.own.file = undefined;
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = [];
    const accepted: Waiting[] = [];
    let bytes = (this.own?.size ?? 0) + this.opts.otherBytes();
    for (const w of batch) {
      if (bytes + w.line.length > this.opts.maxBytes) continue;
      accepted.push(w);
      bytes += w.line.length;
    }
    if (accepted.length < batch.length) {
      const refused = batch.filter((w) => !accepted.includes(w)).map((w) => w.id);
      this.opts.lose(refused, 'spill_full', { dir: this.opts.dir, max_bytes: this.opts.maxBytes });
    }
    if (accepted.length > 0) {
      try {
        await this.append(Buffer.concat(accepted.map((w) => w.line)), accepted.length);
      } catch (err) {
        const error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        this.opts.lose(accepted.map((w) => w.id), 'spill_write_failed', { dir: this.opts.dir, error });
      }
    }
    await this.settle();
    for (const w of batch) w.kept();
  }

  private async append(data: Buffer, lines: number): Promise<void> {
    const own = (this.own ??= { path: this.opts.freshPath(), offset: 0, size: 0, pending: 0 });
    if (!own.file) {
      own.file = await this.opts.files.openAppend(own.path);
      await this.opts.files.syncDir(this.opts.dir);
    }
    try {
      await own.file.append(data);
    } catch (err) {
      // A torn write would glue the next line to half of this one: cut it off again.
      await own.file.truncate(own.size).catch(() => undefined);
      throw err;
    }
    own.size += data.length;
    own.pending += lines;
  }
}
