// Key freshness (R-STS-2, R-EVD-1): each zone's active signing key is younger than KEY_MAX_AGE_DAYS. Keys are read
// zone by zone with the zone bound (caracal.zone_id), so forced RLS shows them to any owner role, not only a
// superuser: a zone whose keys could not be seen must not pass by showing none.
import type { Pool } from '@caracal/db';
import type { CheckDefinition } from '../check.js';
import { readQuery, verdict, withDb } from './support.js';

const DAY_MS = 86_400_000;

/** Whole days from `from` to `now` (a timestamp in the future counts as 0). */
export const ageDays = (from: Date, now: Date) => Math.max(0, Math.floor((now.getTime() - from.getTime()) / DAY_MS));

/** A key or secret is stale once its age exceeds the limit: on day `maxDays` it is still within it. */
export const overLimit = (age: number, maxDays: number) => age > maxDays;

const ZONES_SQL = 'SELECT id::text AS id, slug FROM caracal.zones ORDER BY slug';
const BIND_SQL = "SELECT set_config('caracal.zone_id', $1, true)";
const KEYS_SQL = "SELECT kid, created_at FROM caracal.signing_keys WHERE zone_id = $1 AND status = 'active' ORDER BY kid";

interface ActiveKey {
  zone_id: string;
  slug: string;
  kid: string;
  created_at: string;
  age_days: number;
}

/** Every zone's active key(s), each zone read with its id bound, in one read-only transaction. */
async function activeKeys(db: Pool, zones: ReadonlyArray<{ id: string; slug: string }>, now: Date): Promise<ActiveKey[]> {
  const client = await db.connect();
  try {
    await client.query('BEGIN READ ONLY');
    const keys: ActiveKey[] = [];
    for (const z of zones) {
      await client.query(BIND_SQL, [z.id]);
      const r = await client.query<{ kid: string; created_at: Date }>(KEYS_SQL, [z.id]);
      for (const k of r.rows) keys.push({ zone_id: z.id, slug: z.slug, kid: k.kid, created_at: k.created_at.toISOString(), age_days: ageDays(k.created_at, now) });
    }
    return keys;
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}

export const keyFreshness: CheckDefinition = {
  id: 'key-freshness',
  pillar: 'Keys',
  title: 'Zone signing keys are within KEY_MAX_AGE_DAYS',
  what: "Every zone's active ES256 signing key was created no more than KEY_MAX_AGE_DAYS days ago (caracal.env, default 90): keys are rotated (`caracal zone rotate-key`), which bounds what a leaked key can sign.",
  controls: ['R2', 'R8', 'ASI03', 'EU-AIA-15', 'NIST-MANAGE', 'NIST-MEASURE'],
  command: `${ZONES_SQL}; per zone: ${BIND_SQL}; ${KEYS_SQL}`,
  run: (ctx) =>
    withDb(ctx, async (db) => {
      const max = ctx.settings.KEY_MAX_AGE_DAYS;
      const now = ctx.now();
      const zones = await readQuery<{ id: string; slug: string }>(db, 'zones.json', ZONES_SQL);
      const keys = await activeKeys(db, zones.rows, now);
      const raw = [
        zones.raw,
        { name: 'active-keys.json', command: `per zone, in one read-only transaction: ${BIND_SQL}; ${KEYS_SQL} -- params: [zone id]; age in whole days at ${now.toISOString()}`, output: { max_age_days: max, keys } },
      ];
      const problems = keys.filter((k) => overLimit(k.age_days, max)).map((k) => `zone ${k.slug} key ${k.kid} is ${k.age_days} days old (limit KEY_MAX_AGE_DAYS=${max})`);
      const keyless = zones.rows.filter((z) => !keys.some((k) => k.zone_id === z.id)).length;
      const note = keyless ? `; ${keyless} zone(s) have no active key yet (the STS creates one at the first issuance)` : '';
      return verdict(problems, `${keys.length} active signing key(s) across ${zones.rows.length} zones, all at most ${max} days old${note}`, raw);
    }),
};
