// The last step before a log line is written: censor every sensitive field at any depth and every credential in
// any string, after pino's serializers ran (so error objects, causes and request objects are plain JSON here).
import { isSensitiveKey } from './sensitive-keys.js';
import { CENSOR, textScrubber } from './scrub-text.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function lineScrubber(secrets: readonly string[]): (line: string) => string {
  const scrubText = textScrubber(secrets);
  const walk = (value: Json): Json => {
    if (typeof value === 'string') return scrubText(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    const out: { [key: string]: Json } = {};
    for (const [key, inner] of Object.entries(value)) out[scrubText(key)] = isSensitiveKey(key) ? CENSOR : walk(inner);
    return out;
  };
  return (line) => {
    // Fast path for the common line (every request logs one): with no backslash in it, every key and string value
    // appears in the line verbatim, so if no key is sensitive and the text scrubber changes nothing in the whole
    // line, walking the parsed line would change nothing either, and the line is written as pino made it.
    if (!line.includes('\\') && !hasSensitiveKey(line) && scrubText(line) === line) return line;
    let parsed: Json;
    try {
      parsed = JSON.parse(line) as Json;
    } catch {
      // Not JSON (never expected from pino): censor it as text rather than write it unchecked.
      return scrubText(line);
    }
    return `${JSON.stringify(walk(parsed))}\n`;
  };
}

/**
 * Whether any key of a JSON line without escapes is sensitive. A key ends in `":` and holds no quote, so the text
 * between each `":` and the quote before it covers every key (other candidates only send the line the slow way).
 */
function hasSensitiveKey(line: string): boolean {
  for (let end = line.indexOf('":'); end !== -1; end = line.indexOf('":', end + 1)) {
    if (isSensitiveKey(line.slice(line.lastIndexOf('"', end - 1) + 1, end))) return true;
  }
  return false;
}
