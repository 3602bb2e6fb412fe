// Probes service health and readiness over HTTP (R-OPS-1), once or until ready. Plain node:http, not fetch: on
// Node 20 the first fetch loads its whole implementation, tens of milliseconds on `caracal up`'s critical path.
import { get } from 'node:http';
import type { ServiceName } from '@caracal/db';

export interface ProbeResult {
  service: ServiceName;
  url: string;
  ok: boolean;
  status: number | null;
  reason: string | null;
}

type Answer = { status: number; body: string } | { error: 'timeout' | 'not_listening' | 'unreachable' };

export async function probe(service: ServiceName, baseUrl: string, path: '/health' | '/ready', timeoutMs = 2000): Promise<ProbeResult> {
  const url = `${baseUrl}${path}`;
  const answer = await new Promise<Answer>((resolve) => {
    let req: ReturnType<typeof get>;
    try {
      req = get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          // A readiness answer is a small JSON object; anything longer is not one and is not kept.
          if (body.length < 64 * 1024) body += chunk;
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, body }));
        res.on('error', () => done({ error: 'unreachable' }));
      });
    } catch {
      resolve({ error: 'unreachable' }); // a URL node:http refuses
      return;
    }
    // The whole exchange, not only the wait for the connection, is bounded.
    const timer = setTimeout(() => {
      done({ error: 'timeout' });
      req.destroy();
    }, timeoutMs);
    const done = (a: Answer) => {
      clearTimeout(timer);
      resolve(a);
    };
    req.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code === 'ECONNREFUSED' ? 'not_listening' : 'unreachable' }));
  });
  if ('error' in answer) return { service, url, ok: false, status: null, reason: answer.error };
  const { status } = answer;
  if (status === 200) return { service, url, ok: true, status, reason: null };
  let reason: string | null = null;
  try {
    const parsed = JSON.parse(answer.body) as { reason?: unknown } | null;
    if (typeof parsed?.reason === 'string') reason = parsed.reason;
  } catch {
    reason = status >= 200 && status < 300 ? null : 'unexpected_response';
  }
  return { service, url, ok: false, status, reason: reason ?? `http_${status}` };
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
