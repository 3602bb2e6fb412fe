// What a failed query means for the caller, decided from the driver's error alone: bad data (SQLSTATE class 22,
// 23: the request is at fault), a dependency that is down, paused or refusing (retry later), or anything else.

export type DbFailure =
  | { kind: 'unavailable' }
  | { kind: 'conflict'; field: string | undefined }
  | { kind: 'invalid'; field: string | undefined; what: string };

// Node socket errors and pg-pool's own messages for a server that does not answer in time or went away.
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const DRIVER_MESSAGES = [
  /^timeout exceeded when trying to connect$/,
  /^Connection terminated/,
  /^Query read timeout$/,
  /is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
];

/**
 * SQLSTATE classes 08 (connection), 53 (resources), 57P (operator intervention: shutdown, cannot connect now), and
 * a transaction the server rolled back to keep concurrent ones consistent (40001 serialization failure, 40P01
 * deadlock): nothing was written, and the same request may succeed when retried.
 */
const UNAVAILABLE_STATE = /^(?:08...|53...|57P0[1-4]|57014|40001|40P01)$/;

// A phrase per data error, so the answer names the problem without echoing the refused value (it may be secret).
const DATA_ERRORS: Record<string, string> = {
  '22001': 'is too long',
  '22003': 'is out of range',
  '22007': 'is not a valid date-time',
  '22008': 'is not a valid date-time',
  '22021': 'holds a character the database cannot store',
  '22P02': 'has an invalid format',
  '22P05': 'holds a character the database cannot store',
  '23502': 'is required',
  '23503': 'refers to something that does not exist or is still referenced',
  '23514': 'violates a constraint',
};

interface PgLike {
  code?: unknown;
  column?: unknown;
  constraint?: unknown;
  detail?: unknown;
  message?: unknown;
}

/** The column a pg error names: its `column` field, else the key list of `Key (a, b)=(…)`, else the constraint. */
function fieldOf(e: PgLike): string | undefined {
  if (typeof e.column === 'string' && e.column) return e.column;
  const key = typeof e.detail === 'string' ? /^Key \(([^)]+)\)=/.exec(e.detail)?.[1] : undefined;
  if (key) return key;
  return typeof e.constraint === 'string' && e.constraint ? e.constraint : undefined;
}

/** Whether the error says the database could not be reached or did not answer in time. */
export function isDbUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as PgLike;
  const code = typeof e.code === 'string' ? e.code : '';
  if (NET_CODES.has(code) || UNAVAILABLE_STATE.test(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return DRIVER_MESSAGES.some((m) => m.test(message));
}

/** Classifies a driver error; undefined when it is neither bad data nor an outage (a bug: 500). */
export function classifyDbError(err: unknown): DbFailure | undefined {
  if (isDbUnavailable(err)) return { kind: 'unavailable' };
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as PgLike;
  // Only a pg DatabaseError carries a five-character SQLSTATE; other libraries' codes are left alone.
  if (typeof e.code !== 'string' || !/^2[23][0-9A-Z]{3}$/.test(e.code)) return undefined;
  if (e.code === '23505') return { kind: 'conflict', field: fieldOf(e) };
  return { kind: 'invalid', field: fieldOf(e), what: DATA_ERRORS[e.code] ?? 'is invalid' };
}
