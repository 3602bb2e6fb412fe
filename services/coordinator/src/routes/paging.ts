// Pages of the coordinator's lists (R-CO-1): a limit of 1–500 and an opaque cursor naming the last row of the previous
// page. A cursor is taken only in its canonical spelling and only when it names a row the caller may see, so a forged
// or edited cursor, one from another list, or one naming another application's row is the same 400 and tells nothing.
import { InvalidRequest } from '@caracal/service-kit';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Query strings are not coerced (ajv coerceTypes off), so the page size is parsed here. */
export function limitOf(raw: string | undefined): number {
  if (raw === undefined) return 100;
  const n = /^[0-9]{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 500)) throw new InvalidRequest('limit: must be an integer from 1 to 500');
  return n;
}

// The cursor is the last row's id; the queries page after that row's (created_at, id) at full precision.
const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');

/** The row a cursor continues after; `visible` says whether the caller may see that row in this list. */
export async function cursorAt(raw: string | undefined, visible: (id: string) => Promise<boolean>): Promise<string | undefined> {
  if (raw === undefined) return undefined;
  const id = Buffer.from(raw, 'base64url').toString('utf8');
  if (!UUID.test(id) || encodeCursor(id) !== raw || !(await visible(id))) throw new InvalidRequest('cursor: is not a cursor this service issued');
  return id;
}

/** A page of rows: `next_cursor` is set when the page is full (the next one may be empty). */
export function pageOf<R extends { id: string }>(rows: readonly R[], limit: number, json: (r: R) => Record<string, unknown>) {
  const last = rows.at(-1);
  return { items: rows.map(json), next_cursor: rows.length === limit && last ? encodeCursor(last.id) : null };
}
