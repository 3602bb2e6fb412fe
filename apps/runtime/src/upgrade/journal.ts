// upgrade.log (R-HOME-1): one JSON line per step of an upgrade, `{at, run, step, outcome, version, from, ...}`, mode
// 0600. Steps: staged, verified, migrated, supervisor, rolled:<service>, rolledBack:<service>, contracted, done,
// failed. A run that has no `done` line is unfinished; running the upgrade again completes it.
import { appendFileSync, chmodSync, readFileSync } from 'node:fs';

export type Outcome = 'ok' | 'reused' | 'unchanged' | 'failed' | 'interrupted' | 'refused';

export interface JournalLine {
  at: string;
  run: string;
  step: string;
  outcome: Outcome;
  version: string;
  from: string;
  [detail: string]: unknown;
}

export class Journal {
  private warned = false;

  constructor(
    readonly path: string,
    readonly run: string,
    private readonly base: { version: string; from: string; source?: string },
    private readonly warn: (text: string) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  write(step: string, outcome: Outcome, detail: Record<string, unknown> = {}): JournalLine {
    const line: JournalLine = { at: this.now().toISOString(), run: this.run, step, outcome, version: this.base.version, from: this.base.from, ...(this.base.source ? { source: this.base.source } : {}), ...detail };
    try {
      appendFileSync(this.path, `${JSON.stringify(line)}\n`, { mode: 0o600 });
      chmodSync(this.path, 0o600);
    } catch (e) {
      // A journal that cannot be written must not stop a roll half way: say so once and go on.
      if (!this.warned) this.warn(`cannot write ${this.path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); steps are not being journaled`);
      this.warned = true;
    }
    return line;
  }
}

export function readJournal(path: string): JournalLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const lines: JournalLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    try {
      const v = JSON.parse(raw) as JournalLine;
      if (typeof v.run === 'string' && typeof v.step === 'string' && typeof v.version === 'string') lines.push(v);
    } catch {
      // A torn last line (a killed writer) is not a step.
    }
  }
  return lines;
}

export interface UnfinishedRun {
  run: string;
  version: string;
  from: string;
  source?: string;
  /** Install root of the version the run started from (journaled with `verified`). */
  fromRoot?: string;
  lastStep: string;
  lastOutcome: Outcome;
}

/**
 * The latest run, unless it reached `done` or ended with the whole stack known to be on the version it started
 * from (a `failed` line with `stackOn` = `from`: refused, or rolled back).
 */
export function unfinishedRun(lines: readonly JournalLine[]): UnfinishedRun | undefined {
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  if (last.step === 'done' || (last.step === 'failed' && last.stackOn === last.from)) return undefined;
  const fromRoot = lines.find((l) => l.run === last.run && typeof l.fromRoot === 'string')?.fromRoot as string | undefined;
  return {
    run: last.run,
    version: last.version,
    from: last.from,
    ...(typeof last.source === 'string' ? { source: last.source } : {}),
    ...(fromRoot ? { fromRoot } : {}),
    lastStep: last.step,
    lastOutcome: last.outcome,
  };
}
