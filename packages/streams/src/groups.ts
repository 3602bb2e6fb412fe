// Creates consumer groups idempotently and checks that they exist (R-STR-1).
import type { Redis } from 'ioredis';
import type { StreamKeys } from './keys.js';

export interface GroupSpec {
  stream: string;
  group: string;
}

export async function ensureGroups(redis: Redis, keys: StreamKeys, groups: readonly GroupSpec[]): Promise<void> {
  for (const g of groups) {
    try {
      // Start at 0, not $: messages published before the group existed must still be read.
      await redis.xgroup('CREATE', keys.key(g.stream), g.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
  }
}

/** Returns the first group that is missing, or undefined when all exist. */
export async function missingGroup(redis: Redis, keys: StreamKeys, groups: readonly GroupSpec[]): Promise<GroupSpec | undefined> {
  for (const g of groups) {
    let info: unknown[];
    try {
      info = (await redis.xinfo('GROUPS', keys.key(g.stream))) as unknown[];
    } catch (err) {
      if (String((err as Error).message).includes('no such key')) return g;
      throw err;
    }
    const names = info.map((entry) => {
      const arr = entry as unknown[];
      const i = arr.indexOf('name');
      return i >= 0 ? String(arr[i + 1]) : '';
    });
    if (!names.includes(g.group)) return g;
  }
  return undefined;
}
