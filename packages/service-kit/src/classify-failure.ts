// The one classification of dependency failures into answers (§15): Postgres data errors are the caller's (400,
// 409 for a duplicate), a dependency that is down, paused or refusing is a 503, anything else a 500.
import { classifyDbError } from '@caracal/db';
import { Conflict, InvalidRequest, ServiceUnavailable, type ServiceError } from './errors.js';

// ioredis' own messages when a command cannot be sent or gets no answer in time (enableOfflineQueue is off).
const REDIS_MESSAGES = [
  /^Command timed out$/,
  /^Connection is closed\.$/,
  /^Stream isn't writeable and enableOfflineQueue options is false$/,
  /^Reached the max retries per request limit/,
  /^Socket timeout/,
];

function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'MaxRetriesPerRequestError' || REDIS_MESSAGES.some((m) => m.test(err.message));
}

/** The typed error a driver error stands for, or undefined when it is unexpected (a 500). */
export function classifyFailure(err: unknown): ServiceError | undefined {
  if (isRedisUnavailable(err)) return new ServiceUnavailable('a dependency is temporarily unavailable');
  const db = classifyDbError(err);
  if (!db) return undefined;
  if (db.kind === 'unavailable') return new ServiceUnavailable('a dependency is temporarily unavailable');
  const field = db.field ?? 'a value';
  if (db.kind === 'conflict') return new Conflict(`${field} is already taken`);
  return new InvalidRequest(`${field} ${db.what}`);
}
