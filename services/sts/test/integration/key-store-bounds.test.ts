// Unverified zone claims cannot drive work (issue 8 item 3): against real Postgres, random zone ids cost one
// indexed lookup each and no key load, are remembered in a bounded cache, and bogus kids for a real zone reload
// that zone's keys at most once per interval.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, PLATFORM_ZONE_ID, type Pool } from '../../../../packages/db/dist/index.js';
import { KeyStore } from '../../dist/keys/key-store.js';
import { ZoneDirectory } from '../../dist/authority/zone-directory.js';
import { createMigratedDatabase, type MigratedDatabase } from '../../../../test-support/db.js';

let db: MigratedDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createMigratedDatabase('stskeys');
  pool = createPool({ connectionString: db.roleUrl('sts'), applicationName: 'sts-test' });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** The sts role's pool, counting single queries (zone lookups) and checked-out clients (key loads). */
function counted() {
  const counts = { lookups: 0, keyLoads: 0 };
  const proxy = new Proxy(pool, {
    get(target, prop) {
      if (prop === 'query') return (...args: unknown[]) => (counts.lookups++, (target.query as (...a: unknown[]) => unknown)(...args));
      if (prop === 'connect') return () => (counts.keyLoads++, target.connect());
      return Reflect.get(target, prop);
    },
  });
  return { pool: proxy as Pool, counts };
}

describe('the key store and zone directory under random zone claims', () => {
  it('random zone ids: one lookup each, no key load, caches never past their bound', async () => {
    const { pool: p, counts } = counted();
    const directory = new ZoneDirectory({ pool: p, maxEntries: 50 });
    const keys = new KeyStore({ pool: p, kek: '0'.repeat(64), directory, maxZones: 50 });
    for (let i = 0; i < 200; i++) expect(await keys.verifyKey(randomUUID(), 'kid-1')).toBeUndefined();
    expect(counts).toEqual({ lookups: 200, keyLoads: 0 });
    expect(keys.cachedZones).toBe(0);
    expect(directory.cachedEntries).toBe(50);
  });

  it('one unknown zone asked again and again is looked up once (negative caching), JWKS included', async () => {
    const { pool: p, counts } = counted();
    const keys = new KeyStore({ pool: p, kek: '0'.repeat(64) });
    const zone = randomUUID();
    for (let i = 0; i < 100; i++) {
      expect(await keys.verifyKey(zone, `kid-${i}`)).toBeUndefined();
      expect(await keys.jwks(zone)).toEqual([]);
    }
    expect(counts).toEqual({ lookups: 1, keyLoads: 0 });
  });

  it('bogus kids for a real zone reload its keys at most once per interval', async () => {
    const { pool: p, counts } = counted();
    let now = 1_000_000;
    const keys = new KeyStore({ pool: p, kek: '0'.repeat(64), now: () => now, minReloadMs: 1_000 });
    for (let i = 0; i < 50; i++) expect(await keys.verifyKey(PLATFORM_ZONE_ID, `bogus-${i}`)).toBeUndefined();
    expect(counts).toEqual({ lookups: 1, keyLoads: 1 });
    now += 1_001;
    for (let i = 0; i < 50; i++) await keys.verifyKey(PLATFORM_ZONE_ID, `bogus-${i}`);
    expect(counts.keyLoads).toBe(2);
    expect(keys.cachedZones).toBe(1);
  });
});
