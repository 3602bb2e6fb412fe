// Path-traversal guard for the request target forwarded upstream, across every percent-encoding layer (R-GW-1).

export type PathCheck = { ok: true; path: string } | { ok: false; reason: string };

/** Longest request target (path and query) the gateway forwards. */
export const MAX_FORWARD_PATH_BYTES = 8 * 1024;

// An upstream may decode once, twice or more; five layers is already far beyond any honest client.
const MAX_DECODE_ROUNDS = 5;

const refuse = (reason: string): PathCheck => ({ ok: false, reason });

/**
 * Problems in one layer of the path (raw or decoded). Every layer is checked because we cannot know how many times
 * the upstream, or a framework in front of it, will decode before it normalises dot segments.
 */
function layerProblem(layer: string): string | undefined {
  for (const ch of layer) {
    const code = ch.charCodeAt(0);
    if (code === 0) return 'NUL byte in path';
    if (code < 0x20 || code === 0x7f) return 'control character in path';
  }
  // Windows servers and some frameworks treat `\` as a separator, so `..\` is a dot segment there.
  if (layer.includes('\\')) return 'backslash in path';
  // A leading `//` turns into a scheme-relative URL if ever resolved against a base: another host entirely.
  if (layer.startsWith('//')) return 'path starts with //';
  // NFKC folds look-alikes such as U+FF0E (fullwidth full stop) into `.`; some stacks normalise this way.
  for (const candidate of new Set([layer, layer.normalize('NFKC')])) {
    for (const segment of candidate.split('/')) {
      // `..;x` is `..` to servlet containers (path parameters), and Windows drops trailing dots and spaces.
      const name = segment.split(';')[0] ?? '';
      if (/^[. ]*\.[. ]*$/.test(name)) return 'dot segment in path';
    }
  }
  return undefined;
}

/** Decodes one layer; undefined when the encoding is malformed or is not valid (shortest-form) UTF-8. */
function decodeOnce(layer: string): string | undefined {
  // decodeURIComponent rejects `%zz`, truncated escapes, overlong forms (`%c0%ae`) and encoded surrogates.
  try {
    return decodeURIComponent(layer);
  } catch {
    return undefined;
  }
}

/**
 * R-GW-1: check the part of the request target after the resource prefix. The query string is not decoded or
 * changed; the path is decoded until stable and every layer must be free of traversal. On success the ORIGINAL
 * target is returned so the upstream receives exactly the bytes the caller sent.
 */
export function checkForwardPath(rawPath: string): PathCheck {
  if (rawPath.length > MAX_FORWARD_PATH_BYTES) return refuse('path too long');
  // An HTTP request target is visible ASCII only (RFC 9112 §3.2); anything else was not sent by a conforming client.
  if (!/^[\u0021-\u007e]*$/.test(rawPath)) return refuse('path contains characters outside visible ASCII');
  if (rawPath.includes('#')) return refuse('fragment not allowed in request target');
  const queryAt = rawPath.indexOf('?');
  const path = queryAt === -1 ? rawPath : rawPath.slice(0, queryAt);
  if (!path.startsWith('/')) return refuse('path must start with /');

  // Decoding stops only when no `%` is left, so a literal `%` surviving a decode (`%2525` → `%25` → `%`) is refused
  // as malformed: an upstream that decodes once more would read something else than we checked.
  let layer = path;
  for (let round = 0; ; round += 1) {
    const problem = layerProblem(layer);
    if (problem !== undefined) return refuse(problem);
    if (!layer.includes('%')) break;
    if (round === MAX_DECODE_ROUNDS) return refuse('too many layers of percent-encoding');
    const decoded = decodeOnce(layer);
    if (decoded === undefined) return refuse('malformed percent-encoding or invalid UTF-8 in path');
    layer = decoded;
  }
  return { ok: true, path: rawPath };
}
