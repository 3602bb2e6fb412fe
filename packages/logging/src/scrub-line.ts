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
