// Bounds how long a Redis command may take, so a hung connection sends audit events to the spill instead of
// holding the request (R-AUD-1). The command itself is not cancelled: if it still lands, the event is merely
// published twice, which the audit service absorbs (idempotent on event id, R-AUD-2).

export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
