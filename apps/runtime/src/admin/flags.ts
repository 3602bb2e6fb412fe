// Local checks of admin flags, mirroring the API's schemas: a bad value is a usage error (exit 2) naming the flag.
import { InvalidArgumentError } from 'commander';

type Parser<T> = (value: string) => T;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const SCOPE = /^[A-Za-z0-9:._/-]{1,128}$/;
const OPERATION_PATH = /^\/[A-Za-z0-9/_.~:@!$&'()+,;=%-]*\*?$/;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', '*'] as const;

export interface Operation {
  method: (typeof METHODS)[number];
  path: string;
  scope: string;
}

export interface Placement {
  in: 'header' | 'query';
  name: string;
  prefix?: string;
}

/** A value matching `re`; `what` completes "<flag> must be …". */
export function matching(flag: string, re: RegExp, what: string): Parser<string> {
  return (v) => {
    if (!re.test(v)) throw new InvalidArgumentError(`${flag} must be ${what}`);
    return v;
  };
}

export const zoneRef = matching('--zone', /^[a-z0-9-]{1,64}$/, 'a zone id or slug (lowercase letters, digits, dashes)');
export const slug = matching('slug', /^[a-z0-9][a-z0-9-]{0,62}$/, '1-63 lowercase letters, digits or dashes, starting with a letter or digit');
export const appRef = (flag: string) => matching(flag, /^[a-z0-9_-]{1,128}$/, 'an application id or client_id');
export const uuid = (flag: string) => matching(flag, UUID, 'a UUID');
export const resourceId = matching('--id', /^resource:\/\/[a-z0-9][a-z0-9._-]{0,187}$/, 'resource://<name> (lowercase letters, digits, ".", "_", "-"), at most 200 characters');
export const resourceRef = (flag: string) => matching(flag, /^(?!\.{1,2}$)[\x21-\x7e]{1,200}$/, 'a resource id, identifier or name');

export function text(flag: string, max: number): Parser<string> {
  return (v) => {
    if (v.trim() === '' || v.length > max) throw new InvalidArgumentError(`${flag} must be non-empty text of at most ${max} characters`);
    return v;
  };
}

export function intIn(flag: string, min: number, max: number): Parser<number> {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}`);
    return n;
  };
}

export function httpUrl(flag: string): Parser<string> {
  return (v) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new InvalidArgumentError(`${flag} must be an http(s) URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`${flag} must be an http(s) URL`);
    if (u.username || u.password) throw new InvalidArgumentError(`${flag} must not carry credentials; use --credential-file`);
    return v;
  };
}

/** A comma-separated, non-empty list without duplicates, each item checked by `item`. */
export function csv(flag: string, item: RegExp, what: string): Parser<string[]> {
  return (v) => {
    const items = v.split(',').map((s) => s.trim());
    if (items.length === 0 || items.some((s) => s === '')) throw new InvalidArgumentError(`${flag} must list at least one ${what}, comma-separated, none empty`);
    const bad = items.find((s) => !item.test(s));
    if (bad !== undefined) throw new InvalidArgumentError(`${flag}: '${bad}' is not a valid ${what}`);
    if (new Set(items).size !== items.length) throw new InvalidArgumentError(`${flag} lists a ${what} twice`);
    return items;
  };
}

export const scopes = csv('--scopes', SCOPE, 'scope');
export const capabilities = csv('--capabilities', /^(read|write|approve)$/, 'capability (read, write, approve)');

/** Makes a parser repeatable: each occurrence of the flag adds one checked value. */
export function repeatable<T>(parse: Parser<T>): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}

export const label = matching('--label', /^[A-Za-z0-9:._=-]{1,64}$/, 'a label of 1-64 characters from A-Z a-z 0-9 : . _ = -');

/** `METHOD /path[*]=scope`, e.g. `GET /items*=items:read` (the scope is after the last `=`). */
export function operation(v: string): Operation {
  const usage = `--operation must look like 'GET /items*=items:read' (METHOD /path[*]=scope)`;
  const m = /^(\S+) (\/\S*)=([^=\s]+)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(usage);
  const method = m[1]!.toUpperCase() as Operation['method'];
  if (!METHODS.includes(method)) throw new InvalidArgumentError(`--operation: method '${m[1]}' must be one of ${METHODS.join(', ')}`);
  if (m[2]!.length > 512 || !OPERATION_PATH.test(m[2]!)) throw new InvalidArgumentError(`--operation: path '${m[2]}' must start with '/', use URL path characters, and may end with '*'`);
  if (!SCOPE.test(m[3]!)) throw new InvalidArgumentError(`--operation: scope '${m[3]}' is not a valid scope`);
  return { method, path: m[2]!, scope: m[3]! };
}

/** `header:NAME[:PREFIX]` or `query:NAME`; the prefix may contain colons and spaces (`header:Authorization:Bearer `). */
export function placement(v: string): Placement {
  const usage = `--placement must be header:NAME[:PREFIX] or query:NAME`;
  const m = /^(header|query):([A-Za-z0-9_-]{1,128})(?::(.*))?$/.exec(v);
  if (!m) throw new InvalidArgumentError(usage);
  const prefix = m[3];
  if (prefix === undefined) return { in: m[1] as Placement['in'], name: m[2]! };
  if (m[1] === 'query') throw new InvalidArgumentError(`${usage}: a query placement takes no prefix`);
  if (prefix.length > 64 || !/^[\x20-\x7e]*$/.test(prefix)) throw new InvalidArgumentError('--placement: the prefix must be at most 64 printable ASCII characters');
  return { in: 'header', name: m[2]!, prefix };
}
