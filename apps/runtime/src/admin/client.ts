// A small client for the admin API (R-API-1) and the coordinator (R-CO-1): bearer token, no redirects, a deadline, every failure a CliError.
import type { Io } from '../commands/io.js';
import { CliError, UsageError } from '../errors.js';
import { loadContext, serviceUrl } from '../stack/context.js';
import { adminToken, TOKEN_FILE_ENV } from './admin-token.js';
import { printable } from './render.js';

export type Method = 'GET' | 'POST' | 'DELETE';
export type Json = Record<string, unknown>;

export const TIMEOUT_MS = 10_000;

export interface CallOptions {
  /** A longer deadline for calls known to be slow (e.g. verifying a whole chain); default TIMEOUT_MS. */
  timeoutMs?: number;
  /** Extra request headers (e.g. `Idempotency-Key` towards the coordinator). */
  headers?: Record<string, string>;
}

export interface AdminApi {
  readonly baseUrl: string;
  call<T = Json>(method: Method, path: string, body?: unknown, opts?: CallOptions): Promise<T>;
}

/**
 * Builds an API path from literal parts and percent-encoded segments. `.` and `..` are refused because URL parsing
 * would resolve them away and send the request to a different route.
 */
export function apiPath(parts: TemplateStringsArray, ...segments: string[]): string {
  return parts.reduce((acc, part, i) => acc + part + (i < segments.length ? segment(segments[i]!) : ''), '');
}

function segment(value: string): string {
  if (value === '' || value === '.' || value === '..') throw new UsageError(`'${value}' is not a valid identifier`);
  return encodeURIComponent(value);
}

/** Resolves the API URL and the admin token from the home (or CARACAL_ADMIN_TOKEN_FILE). */
export function adminApi(io: Io, fetchImpl: typeof fetch = fetch): AdminApi {
  const ctx = loadContext(io.env);
  const token = adminToken(ctx);
  const tokenSource = io.env[TOKEN_FILE_ENV] !== undefined ? `${TOKEN_FILE_ENV} (${io.env[TOKEN_FILE_ENV]})` : `${ctx.home.secretsDir}/caracalAdminToken`;
  return bearerApi({ name: 'the API', service: 'api', baseUrl: serviceUrl(ctx, 'api'), token, tokenName: 'admin token', tokenSource }, fetchImpl);
}

/** Which service a bearer client talks to, and with which token (read by the caller, never from argv). */
export interface BearerTarget {
  /** How messages name the service: "the API", "the coordinator". */
  name: string;
  /** Whose logs the timeout hint points at. */
  service: string;
  baseUrl: string;
  token: string;
  tokenName: string;
  tokenSource: string;
}

/** The same client for any Caracal service that takes a bearer: no redirects, a deadline, every failure a CliError. */
export function bearerApi(t: BearerTarget, fetchImpl: typeof fetch = fetch): AdminApi {
  const { baseUrl, token } = t;
  return {
    baseUrl,
    async call<T>(method: Method, path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
      const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
      let res: Response;
      let text: string;
      try {
        res = await fetchImpl(new URL(path, baseUrl), {
          method,
          headers: {
            ...opts.headers,
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await res.text();
      } catch (err) {
        throw transportError(t, err, timeoutMs);
      }
      const parsed = parseJson(text);
      if (!res.ok) throw failure(method, path, res, parsed, t);
      if (parsed === undefined || typeof parsed !== 'object' || parsed === null) {
        throw new CliError(`${t.name} at ${baseUrl} answered ${method} ${printable(path)} with a body that is not a JSON object`);
      }
      return parsed as T;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function transportError(t: BearerTarget, err: unknown, timeoutMs: number): CliError {
  const e = err as (Error & { cause?: { code?: string; message?: string } }) | undefined;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new CliError(`${t.name} at ${t.baseUrl} did not answer within ${timeoutMs / 1000} s`, 1, `\`caracal status --ready\` and \`caracal logs ${t.service}\` show what it is doing`);
  }
  if (/redirect/i.test(e?.cause?.message ?? '')) return new CliError(`${t.name} at ${t.baseUrl} answered with a redirect, which the CLI refuses to follow`);
  const detail = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? 'unknown error';
  return new CliError(`${t.name} at ${t.baseUrl} is not reachable (is the stack up? \`caracal up\`)`, 1, `connection error: ${printable(detail)}`);
}

/** Maps an error response ({error, error_description}) to one clear line; 401 gets its own wording. */
function failure(method: Method, path: string, res: Response, body: unknown, t: BearerTarget): CliError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; error_description?: unknown };
  const code = typeof b.error === 'string' ? printable(b.error) : 'error';
  const description = typeof b.error_description === 'string' ? printable(b.error_description) : res.statusText || 'no description';
  if (res.status === 401) return new CliError(`${t.name} refused the ${t.tokenName}: ${description}`, 1, `the token was read from ${t.tokenSource}`);
  const retryAfter = res.status === 429 ? res.headers.get('retry-after') : null;
  const retry = retryAfter && /^\d+$/.test(retryAfter) ? ` (retry after ${retryAfter} s)` : '';
  return new CliError(`${method} ${printable(path)} failed: ${res.status} ${code}: ${description}${retry}`);
}
