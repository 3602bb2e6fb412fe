// The one canonical form of a request target (R-GW-1, RFC 3986 §6.2.2). The STS matches operation rules against
// it and the upstream receives it byte for byte, so an upstream that decodes the path sees what was matched:
// `/%61dmin` is `/admin` to both, never `/admin` to one and something else to the other.
//
// Decisions (README, "Gateway"):
// - Percent-escapes of characters that may stand unencoded in a path segment (unreserved, sub-delims other than
//   `;`, `:` and `@`; RFC 3986 §3.3) are decoded; every other byte is sent as an escape with uppercase hex.
// - Escapes that would change the path's structure once decoded are refused: `%2F` (/), `%5C` (\), `%3B` (;),
//   `%3F` (?), `%23` (#), `%25` (%, a second layer of encoding) and `%00`. So are `;` path parameters (servlet
//   containers route `/admin;x` as `/admin`), backslashes, dot segments and the rest `checkForwardPath` refuses.
// - Letter case and a trailing `/` are significant, as operation rules are: `/Admin` and `/export/` are other
//   paths than `/admin` and `/export`, and are forwarded exactly so.
// - The query string is not part of rule matching and is forwarded unchanged.
import { checkForwardPath, type PathCheck } from './path-guard.js';

// RFC 3986 §3.3 pchar without `%` and `;`: these stand for themselves and are never escaped in the canonical form.
const PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]$/;

const STRUCTURAL: Readonly<Record<string, string>> = {
  '2F': 'encoded / in path',
  '5C': 'encoded backslash in path',
  '3B': 'encoded ; in path',
  '3F': 'encoded ? in path',
  '23': 'encoded # in path',
  '25': 'encoded % in path',
  '00': 'NUL byte in path',
};

const escape = (byte: number) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;

/** Canonical form of the path part, or the reason it is refused. */
function canonicalPath(path: string): { ok: true; path: string } | { ok: false; reason: string } {
  if (path.includes(';')) return { ok: false, reason: 'path parameter (;) in path' };
  let out = '';
  for (let i = 0; i < path.length; i += 1) {
    const ch = path[i]!;
    if (ch !== '%') {
      out += PLAIN.test(ch) ? ch : escape(ch.charCodeAt(0));
      continue;
    }
    const hex = path.slice(i + 1, i + 3).toUpperCase();
    const refused = STRUCTURAL[hex];
    if (refused !== undefined) return { ok: false, reason: refused };
    const decoded = String.fromCharCode(parseInt(hex, 16));
    out += PLAIN.test(decoded) ? decoded : `%${hex}`;
    i += 2;
  }
  return { ok: true, path: out };
}

/**
 * The canonical target (path and query) after the resource prefix. `checkForwardPath` runs first: it refuses
 * traversal in every decoding layer and malformed escapes, so every `%` here is followed by two hex digits.
 */
export function canonicalTarget(rawTarget: string): PathCheck {
  const guarded = checkForwardPath(rawTarget);
  if (!guarded.ok) return guarded;
  const queryAt = rawTarget.indexOf('?');
  const [path, query] = queryAt === -1 ? [rawTarget, ''] : [rawTarget.slice(0, queryAt), rawTarget.slice(queryAt)];
  const canonical = canonicalPath(path);
  if (!canonical.ok) return canonical;
  // Decoding may have produced a dot segment (`/%2e/`): already refused by the guard, checked again on the result.
  if (canonical.path.split('/').some((s) => s === '.' || s === '..')) return { ok: false, reason: 'dot segment in path' };
  return { ok: true, path: `${canonical.path}${query}` };
}
