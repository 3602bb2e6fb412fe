// The readiness ladder (R-OPS-1): checks run in order and the first failure names the reason.

export interface ReadinessCheck {
  /** Reason reported when the check fails, e.g. `postgres_unreachable`. */
  reason: string;
  check: () => Promise<void>;
}

export type ReadinessResult = { ready: true } | { ready: false; reason: string; detail: string };

export async function runLadder(checks: readonly ReadinessCheck[], timeoutMs = 2000): Promise<ReadinessResult> {
  for (const c of checks) {
    try {
      await withTimeout(c.check(), timeoutMs);
    } catch (err) {
      return { ready: false, reason: c.reason, detail: (err as Error)?.message ?? String(err) };
    }
  }
  return { ready: true };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
