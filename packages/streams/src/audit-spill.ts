// The local spill of audit events (R-AUD-1): while Redis cannot take them, signed messages are appended to an
// fsynced NDJSON file of this process and replayed in order once it can; files left by dead processes are adopted
// and replayed as well. An event that cannot be kept is counted as lost, and readiness reports it (R-OPS-1).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { withDeadline } from './deadline.js';
import type { StreamKeys } from './keys.js';
import { STREAMS } from './names.js';
import { auditEntry, type SignedAudit } from './publish.js';
import { SerialQueue } from './serial-queue.js';
import { adoptDeadSpills } from './spill-adopt.js';
import { nodeSpillFiles, type SpillFiles, type SpillLog } from './spill-files.js';
import type { SpillLine } from './spill-lines.js';
import { SOURCE, spillFileName } from './spill-names.js';
import { replayStep, type ReplayDeps, type SpillTarget, type StepResult } from './spill-replay.js';
import { SpillWriter } from './spill-writer.js';

export interface SpillStatus {
  /** Events kept in spill files, waiting to be published. */
  spilled: number;
  /** Events that could be kept nowhere, or spilled lines found corrupt: evidence that is gone. */
  lost: number;
  /** Spilled events published since start. */
  replayed: number;
}

export interface AuditSpillOptions {
  dir: string;
  source: string;
  redis: Redis;
  keys: StreamKeys;
  maxBytes?: number;
  intervalMs?: number;
  chunkBytes?: number;
  publishTimeoutMs?: number;
  files?: SpillFiles;
  log?: SpillLog;
  pid?: number;
  /** When this process started; spill files with this pid written before it belong to an earlier process. */
  startedAtMs?: number;
  now?: () => number;
}

export const DEFAULT_SPILL_MAX_BYTES = 1024 ** 3;

const NOTHING: StepResult = { published: 0, corrupt: 0, failed: false };

export class AuditSpill {
  private readonly queue = new SerialQueue();
  private readonly files: SpillFiles;
  private readonly log: SpillLog;
  private readonly pid: number;
  private readonly now: () => number;
  private readonly writer: SpillWriter;
  private readonly replay: ReplayDeps;
  private adopted: SpillTarget[] = [];
  private lost = 0;
  private replayed = 0;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;

  constructor(private readonly opts: AuditSpillOptions) {
    if (!SOURCE.test(opts.source)) throw new TypeError(`audit source '${opts.source}' may only hold A-Z a-z 0-9 _ . -`);
    this.files = opts.files ?? nodeSpillFiles;
    this.log = opts.log ?? (() => undefined);
    this.pid = opts.pid ?? process.pid;
    this.now = opts.now ?? Date.now;
    this.writer = new SpillWriter({
      dir: opts.dir,
      files: this.files,
      queue: this.queue,
      maxBytes: opts.maxBytes ?? DEFAULT_SPILL_MAX_BYTES,
      otherBytes: () => this.adopted.reduce((n, t) => n + t.size, 0),
      freshPath: () => this.freshPath(),
      lose: (ids, reason, detail) => this.recordLost(ids, reason, detail),
      remove: (path) => this.remove(path),
      log: this.log,
    });
    const timeoutMs = opts.publishTimeoutMs ?? 5000;
    this.replay = {
      files: this.files,
      chunkBytes: opts.chunkBytes ?? 256 * 1024,
      publish: (messages) => withDeadline(this.publish(messages), timeoutMs, 'replaying spilled audit events').catch(() => 0),
      quarantine: (target, line) => this.quarantine(target, line),
    };
  }

  /** True while events must go to the spill, so that none overtakes one spilled before it. */
  get active(): boolean {
    return this.writer.active;
  }

  status(): SpillStatus {
    const spilled = [this.writer.target, ...this.adopted].reduce((n, t) => n + (t?.pending ?? 0), 0);
    return { spilled, lost: this.lost, replayed: this.replayed };
  }

  /** Resolves once the message is fsynced to the spill file, or counted as lost. Never rejects. */
  keep(message: SignedAudit, id: string): Promise<void> {
    return this.writer.keep(message, id);
  }

  /** Counts events that are gone; the log names them, never their content or signature. */
  recordLost(ids: readonly string[], reason: string, detail: Record<string, unknown> = {}): void {
    this.lose(ids.length, reason, { event_ids: ids.slice(0, 20), ...detail });
  }

  /** Adopts spill files of dead processes, then replays every interval until stopped. */
  async start(intervalMs = this.opts.intervalMs ?? 500): Promise<void> {
    if (this.timer) return;
    this.timer = setInterval(() => void this.drain(), intervalMs);
    this.timer.unref();
    const startedAtMs = this.opts.startedAtMs ?? this.now() - process.uptime() * 1000;
    const adopting = () => adoptDeadSpills({ dir: this.opts.dir, files: this.files, pid: this.pid, startedAtMs, claimPath: () => this.freshPath(), log: this.log });
    try {
      this.adopted.push(...(await this.queue.run(adopting)));
    } catch (err) {
      this.log('warn', 'adopting audit spill files failed', { error: (err as Error).message });
    }
    void this.drain();
  }

  /** Stops replaying and closes the spill file; what it holds stays on disk for the next process. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.draining;
    await this.queue.run(() => this.writer.close());
  }

  /** Starts a replay pass unless one is running, and resolves when it ends. */
  drain(): Promise<void> {
    this.draining ??= this.replayAll()
      .catch((err: Error) => this.log('warn', 'replaying the audit spill failed; retrying', { error: err.message }))
      .finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async replayAll(): Promise<void> {
    for (;;) {
      const own = this.writer.target;
      const target = own && own.offset < own.size ? own : this.adopted[0];
      if (!target) return;
      // Each step is one queued task, so appends interleave with replay without ever splitting a line.
      if ((await this.queue.run(() => this.step(target))).failed) return;
    }
  }

  private async step(target: SpillTarget): Promise<StepResult> {
    const own = target === this.writer.target;
    if (!own && !this.adopted.includes(target)) return NOTHING;
    let result = NOTHING;
    try {
      result = await replayStep(target, this.replay);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.lose(target.pending, 'spill_file_vanished', { file: target.path });
      target.pending = 0;
      target.offset = target.size;
    }
    this.replayed += result.published;
    if (target.offset < target.size) return result;
    if (own) {
      await this.writer.settle();
    } else {
      this.adopted = this.adopted.filter((t) => t !== target);
      await this.remove(target.path);
    }
    return result;
  }

  private async publish(messages: SignedAudit[]): Promise<number> {
    const pipeline = this.opts.redis.pipeline();
    for (const m of messages) pipeline.xadd(...auditEntry(this.opts.keys, STREAMS.auditEvents, m));
    const results = (await pipeline.exec()) ?? [];
    let published = 0;
    while (published < results.length && !results[published]![0]) published++;
    return published;
  }

  private async remove(path: string): Promise<void> {
    try {
      await this.files.unlink(path);
      await this.files.syncDir(this.opts.dir);
    } catch (err) {
      // Left behind, it is adopted and re-published after this process ends: duplicates, never a gap.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log('warn', 'a replayed audit spill file cannot be removed', { file: path, error: (err as Error).message });
    }
  }

  private async quarantine(target: SpillTarget, line: SpillLine): Promise<void> {
    const corruptFile = `${target.path}.corrupt`;
    let setAside = true;
    try {
      await this.files.appendDurably(corruptFile, Buffer.concat([line.text, Buffer.from('\n')]));
    } catch {
      setAside = false;
    }
    this.lose(1, 'spill_line_corrupt', { file: target.path, corrupt_file: setAside ? corruptFile : 'could not be written', end_offset: line.end });
  }

  private lose(count: number, reason: string, detail: Record<string, unknown>): void {
    this.lost += count;
    this.log('error', 'audit evidence lost', { reason, count, ...detail });
  }

  private freshPath(): string {
    return join(this.opts.dir, spillFileName(this.opts.source, this.pid, this.now(), randomBytes(4).toString('hex')));
  }
}
