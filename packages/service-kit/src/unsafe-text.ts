// Text no field may hold (§15): NUL, which Postgres cannot store in text (SQLSTATE 22021), and unpaired UTF-16
// surrogates, which are not Unicode and cannot be encoded as UTF-8. Refused for every string of a request's body,
// query and path parameters, at any depth and in object keys, naming where it was found.
import type { FastifyRequest } from 'fastify';
import { InvalidRequest } from './errors.js';

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function problemOf(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(s)) return 'must be valid Unicode (it holds an unpaired surrogate)';
  return undefined;
}

function check(value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') {
    const problem = problemOf(value);
    if (problem) throw new InvalidRequest(`${path} ${problem}`);
    return;
  }
  // Deeper than any schema allows: the schema validator refuses it next, so there is nothing to store.
  if (value === null || typeof value !== 'object' || depth > 32) return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => check(v, `${path}[${i}]`, depth + 1));
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const keyProblem = problemOf(k);
    if (keyProblem) throw new InvalidRequest(`a field name in ${path} ${keyProblem}`);
    check(v, `${path}.${k}`, depth + 1);
  }
}

/** A preValidation hook: runs once the body is parsed, before the route's schema. */
export async function refuseUnsafeText(req: FastifyRequest): Promise<void> {
  check(req.params, 'params', 0);
  check(req.query, 'query', 0);
  check(req.body, 'body', 0);
}
