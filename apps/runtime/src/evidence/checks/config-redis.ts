// Configuration posture (R-STR-4, R-EVD-1): Redis never evicts (streams carry audit events and revocations) and
// keeps an append-only file. Read with CONFIG GET; a Redis that refuses CONFIG (hosted Redis often does) is read
// through INFO, which reports the same two settings.
import type { Redis } from 'ioredis';
import type { CheckDefinition, RawOutput } from '../check.js';
import { fail, skipped, verdict, withRedis } from './support.js';

/** Each setting, the value it must have, and where INFO reports it (field and value meaning the same). */
const SETTINGS = [
  { name: 'maxmemory-policy', want: 'noeviction', info: { section: 'memory', field: 'maxmemory_policy', map: (v: string) => v } },
  { name: 'appendonly', want: 'yes', info: { section: 'persistence', field: 'aof_enabled', map: (v: string) => (v === '1' ? 'yes' : 'no') } },
] as const;

type Read = { values: Record<string, string | null>; raw: RawOutput[] };

async function viaConfig(redis: Redis): Promise<Read> {
  const values: Record<string, string | null> = {};
  const raw: RawOutput[] = [];
  for (const s of SETTINGS) {
    const reply = (await redis.call('CONFIG', 'GET', s.name)) as string[];
    values[s.name] = reply[1] ?? null;
    raw.push({ name: `config-get-${s.name}.json`, command: `CONFIG GET ${s.name}`, output: reply });
  }
  return { values, raw };
}

/** `field:value` lines of an INFO section. */
export const infoField = (info: string, field: string) => new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? null;

async function viaInfo(redis: Redis): Promise<Read> {
  const values: Record<string, string | null> = {};
  const raw: RawOutput[] = [];
  for (const s of SETTINGS) {
    const text = (await redis.call('INFO', s.info.section)) as string;
    const v = infoField(text, s.info.field);
    values[s.name] = v === null ? null : s.info.map(v);
    raw.push({ name: `info-${s.info.section}.json`, command: `INFO ${s.info.section} (field ${s.info.field})`, output: { [s.info.field]: v } });
  }
  return { values, raw };
}

const message = (e: unknown) => (e as Error)?.message ?? String(e);

export const configRedis: CheckDefinition = {
  id: 'config-redis',
  pillar: 'Configuration',
  title: 'Redis never evicts and keeps an AOF',
  what: 'Redis runs with maxmemory-policy noeviction and appendonly yes: under memory pressure it refuses writes instead of silently dropping audit events or revocation broadcasts, and a restart loses at most a second of them.',
  controls: ['R5', 'R6', 'ASI08', 'NIST-MEASURE'],
  command: 'CONFIG GET maxmemory-policy; CONFIG GET appendonly (INFO memory / INFO persistence when CONFIG is refused)',
  run: (ctx) =>
    withRedis(ctx, async (redis) => {
      let read: Read;
      let configRefused: string | null = null;
      try {
        read = await viaConfig(redis);
      } catch (e) {
        configRefused = message(e);
        try {
          read = await viaInfo(redis);
        } catch (e2) {
          const why = `Redis refuses CONFIG GET (${configRefused}) and INFO (${message(e2)})`;
          // Caracal configures its managed Redis itself, so a refusal there is a fault; a hosted Redis may lock both
          // commands down, and then the settings are unknown here rather than wrong: say so instead of guessing.
          return ctx.settings.CARACAL_REDIS === 'managed' ? fail(`managed ${why}`) : skipped(`external ${why}: confirm maxmemory-policy noeviction and AOF with its provider`);
        }
      }
      const problems = SETTINGS.filter((s) => read.values[s.name] !== s.want).map((s) => `Redis ${s.name} is ${read.values[s.name] ?? 'not reported'}, not ${s.want}`);
      const how = configRefused ? ` (read through INFO: CONFIG GET was refused: ${configRefused})` : '';
      return verdict(problems, `Redis maxmemory-policy noeviction, appendonly yes${how}`, read.raw);
    }),
};
