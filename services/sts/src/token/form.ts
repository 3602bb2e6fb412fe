// Parses an `application/x-www-form-urlencoded` token request strictly (R-STS-1, §15): valid UTF-8, valid
// percent-encoding, no control characters, and no repeated parameter except `resource` (RFC 8707 §2).
import { InvalidRequest } from './oauth-errors.js';

export type Form = ReadonlyMap<string, readonly string[]>;

const REPEATABLE = new Set(['resource']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    throw new InvalidRequest('the form body has malformed percent-encoding or invalid UTF-8');
  }
}

export function parseForm(raw: Buffer): Form {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new InvalidRequest('the form body is not valid UTF-8');
  }
  const form = new Map<string, string[]>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = decode(eq === -1 ? '' : pair.slice(eq + 1));
    if (/[\u0000-\u001f\u007f]/.test(key + value)) throw new InvalidRequest(`parameter '${key.replace(/[^\x20-\x7e]/g, '?')}' contains control characters`);
    const list = form.get(key) ?? [];
    list.push(value);
    form.set(key, list);
  }
  for (const [key, values] of form) {
    if (values.length > 1 && !REPEATABLE.has(key)) throw new InvalidRequest(`parameter '${key}' is repeated`);
  }
  return form;
}

export function param(form: Form, name: string): string | undefined {
  const v = form.get(name)?.[0];
  return v === undefined || v === '' ? undefined : v;
}

export function required(form: Form, name: string): string {
  const v = param(form, name);
  if (v === undefined) throw new InvalidRequest(`parameter '${name}' is required`);
  return v;
}
