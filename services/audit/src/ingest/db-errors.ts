// Tells a dependency outage (wait and retry the same batch) from an error caused by the data itself (isolate the
// event that caused it and dead-letter it), so an outage never fills the DLQ and one bad event never blocks a zone.

/** SQLSTATE classes of a connection, resource, operator or concurrency problem: nothing wrong with the event. */
const TRANSIENT_CLASSES = ['08', '53', '57', '40', '58'];

export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return true;
  if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_CLASSES.includes(code.slice(0, 2));
  // Node socket errors (ECONNREFUSED, ETIMEDOUT, …).
  return true;
}
