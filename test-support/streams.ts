// Reads a non-audit stream as the tests check it: every message's fields, each signature verified (R-STR-2).
import type { Redis } from 'ioredis';
import { verifyFields } from '../packages/streams/dist/index.js';

export async function signedMessages(redis: Redis, prefix: string, stream: string, hmacKey: string): Promise<Array<Record<string, string>>> {
  const entries = await redis.xrange(`${prefix}${stream}`, '-', '+');
  return entries.map(([, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    if (!verifyFields(stream, fields, hmacKey)) throw new Error(`message on ${stream} with a bad signature`);
    return fields;
  });
}

/** Polls until `check` holds; the deadline only bounds a broken run, it is never what a test measures. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A per-stream counter's value in Prometheus text, or undefined when the stream has no sample. */
export function streamMetric(text: string, name: string, stream: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`stream="${stream}"`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}
