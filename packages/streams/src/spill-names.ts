// Names of audit spill files. A name carries its owner's pid, so a file whose owner died can be adopted and one
// whose owner lives is left alone (R-AUD-1).

const NAME = /^audit-spill-(.+)-(\d+)-(\d+)-([0-9a-f]{8})\.ndjson$/;
export const SOURCE = /^[A-Za-z0-9_.-]+$/;

export interface SpillName {
  source: string;
  pid: number;
  startMs: number;
}

/** `tag` (8 hex digits) tells apart spill files of one process: several emitters, or successive files of one. */
export function spillFileName(source: string, pid: number, startMs: number, tag: string): string {
  return `audit-spill-${source}-${pid}-${startMs}-${tag}.ndjson`;
}

export function parseSpillFileName(name: string): SpillName | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  return { source: m[1]!, pid: Number(m[2]), startMs: Number(m[3]) };
}

/** Oldest first, so adopted evidence is replayed roughly in the order it was written. */
export function byStart(a: string, b: string): number {
  const pa = parseSpillFileName(a);
  const pb = parseSpillFileName(b);
  return (pa?.startMs ?? 0) - (pb?.startMs ?? 0) || (a < b ? -1 : a > b ? 1 : 0);
}
