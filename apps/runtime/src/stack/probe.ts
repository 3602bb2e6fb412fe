// Probes service health and readiness over HTTP (R-OPS-1), once or until ready.
import type { ServiceName } from '@caracal/db';

export interface ProbeResult {
  service: ServiceName;
  url: string;
  ok: boolean;
  status: number | null;
  reason: string | null;
}

export async function probe(service: ServiceName, baseUrl: string, path: '/health' | '/ready', timeoutMs = 2000): Promise<ProbeResult> {
  const url = `${baseUrl}${path}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    let reason: string | null = null;
    try {
      const body = (await res.json()) as { reason?: unknown };
      if (typeof body.reason === 'string') reason = body.reason;
    } catch {
      reason = res.ok ? null : 'unexpected_response';
    }
    return { service, url, ok: res.status === 200, status: res.status, reason: res.status === 200 ? null : (reason ?? `http_${res.status}`) };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { service, url, ok: false, status: null, reason: cause === 'ECONNREFUSED' ? 'not_listening' : (err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable' };
  }
}

/** How often `up` and `upgrade` ask the services (and the supervisor) whether they are ready. */
export const READY_POLL_MS = 100;

export interface WaitOptions {
  intervalMs: number;
  deadlineMs: number;
  onPending?: (pending: ProbeResult[], elapsedMs: number) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Polls every target until all answer 200 or the deadline passes; returns the last results. */
export async function waitForAll(targets: ReadonlyArray<{ service: ServiceName; url: string }>, path: '/health' | '/ready', opts: WaitOptions): Promise<ProbeResult[]> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  for (;;) {
    const results = await Promise.all(targets.map((t) => probe(t.service, t.url, path)));
    const pending = results.filter((r) => !r.ok);
    if (pending.length === 0 || now() - started >= opts.deadlineMs) return results;
    opts.onPending?.(pending, now() - started);
    await sleep(opts.intervalMs);
  }
}
