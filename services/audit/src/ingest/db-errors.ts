// Tells an error caused by the data itself (isolate the event behind it and dead-letter it) from everything else —
// an outage, a timeout, a missing privilege or migration — which is retried, so an outage never fills the DLQ.

/** SQLSTATE classes about the values written: data exception, integrity violation, program limit exceeded. */
const DATA_CLASSES = ['22', '23', '54'];

export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && DATA_CLASSES.includes(code.slice(0, 2));
}
