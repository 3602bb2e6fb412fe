// Runtime readiness (R-EVD-1, R-OPS-1): every service answers `GET /ready` on its port with `ready: true` and its
// own name (so another process on the port does not pass); a stopped or unready service is named.
import { SERVICE_NAMES, type ServiceName } from '@caracal/db';
import type { CheckDefinition, EvidenceContext, RawOutput } from '../check.js';
import { serviceUrl } from '../../stack/context.js';
import { verdict } from './support.js';

/** Long enough for a loaded host, short enough that a hung service cannot stall the pack. */
export const REQUEST_TIMEOUT_MS = 3000;

export interface HttpAnswer {
  status: number | null;
  /** The JSON body when there is one (never a secret: /ready and a refused /metrics say nothing secret). */
  body: unknown;
  headers: Record<string, string>;
  /** Why no answer came: `not_listening`, `timeout` or the error code. */
  error: string | null;
}

/** One time-bounded GET without credentials; the answer as read, or why there was none. */
export async function httpGet(url: string, keepHeaders: readonly string[] = []): Promise<HttpAnswer> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: 'manual' });
    const headers = Object.fromEntries(keepHeaders.flatMap((h) => (res.headers.has(h) ? [[h, res.headers.get(h)!]] : [])));
    // Only JSON is kept: a /metrics that answers 200 would otherwise put every metric into raw/.
    if ((res.headers.get('content-type') ?? '').includes('application/json')) return { status: res.status, body: await res.json().catch(() => null), headers, error: null };
    await res.body?.cancel();
    return { status: res.status, body: null, headers, error: null };
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    const error = code === 'ECONNREFUSED' ? 'not_listening' : (e as Error).name === 'TimeoutError' ? 'timeout' : (code ?? (e as Error).message);
    return { status: null, body: null, headers: {}, error };
  }
}

/** Each service's answer to `GET <its url><path>`, one raw output per service (`<prefix>-<service>.json`). */
export async function askEveryService(ctx: EvidenceContext, path: string, prefix: string, keepHeaders: readonly string[] = []): Promise<Array<{ service: ServiceName; answer: HttpAnswer; raw: RawOutput }>> {
  return Promise.all(
    SERVICE_NAMES.map(async (service) => {
      const url = `${serviceUrl(ctx, service)}${path}`;
      const answer = await httpGet(url, keepHeaders);
      return { service, answer, raw: { name: `${prefix}-${service}.json`, command: `GET ${url} (no credentials, timeout ${REQUEST_TIMEOUT_MS} ms)`, output: answer } };
    }),
  );
}

/** Why `service` is not ready by its answer, or undefined when it is. */
export function notReady(service: ServiceName, a: HttpAnswer): string | undefined {
  if (a.error) return `${service} did not answer /ready (${a.error})`;
  const body = (a.body ?? {}) as { ready?: unknown; service?: unknown; reason?: unknown };
  if (a.status === 200 && body.ready === true && body.service === service) return undefined;
  if (a.status === 200 && body.service !== service) return `${service} port answered /ready as ${JSON.stringify(body.service ?? null)}`;
  return `${service} is not ready (HTTP ${a.status}${typeof body.reason === 'string' ? `, ${body.reason}` : ''})`;
}

export const runtimeReadiness: CheckDefinition = {
  id: 'runtime-readiness',
  pillar: 'Runtime',
  title: 'Every service is ready',
  what: 'Each of the five services answers GET /ready with ready: true under its own name: its readiness ladder (database, Redis, keys, audit evidence) passes, so requests are served rather than refused.',
  controls: ['R3', 'R5', 'ASI08', 'SOC2-CC7', 'EU-AIA-14', 'NIST-MEASURE'],
  command: `GET http://CARACAL_BIND_HOST:<port>/ready for ${SERVICE_NAMES.join(', ')}`,
  run: async (ctx) => {
    const answers = await askEveryService(ctx, '/ready', 'ready');
    const problems = answers.flatMap(({ service, answer }) => notReady(service, answer) ?? []);
    return verdict(problems, `all ${answers.length} services ready: ${SERVICE_NAMES.join(', ')}`, answers.map((a) => a.raw));
  },
};
