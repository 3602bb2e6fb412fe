// The zones' public signing keys, read from Postgres (public halves only, migration 0013) for services that verify
// mandates without the STS's JWKS endpoint. Cached briefly; an unknown kid reloads its zone at most once per
// interval. The shape is the mandates package's KeyResolver. A store failure throws (callers deny with 503).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { withZone, type Pool } from '@caracal/db';

interface Loaded {
  at: number;
  keys: Map<string, KeyObject>;
}

/** Bounded: a flood of forged zone ids cannot grow the cache without limit. */
const MAX_ZONES = 1000;

async function readZoneKeys(pool: Pool, zoneId: string): Promise<Array<{ kid: string; public_jwk: Record<string, string> }> | undefined> {
  return withZone(pool, zoneId, async (c) => {
    const zone = await c.query('SELECT 1 FROM zones WHERE id = $1', [zoneId]);
    if (zone.rowCount !== 1) return undefined;
    const keys = await c.query<{ kid: string; public_jwk: Record<string, string> }>(
      "SELECT kid, public_jwk FROM signing_keys WHERE status IN ('active', 'previous') AND (retire_after IS NULL OR retire_after > now())",
    );
    return keys.rows;
  });
}

export function zonePublicKeys(pool: Pool, ttlMs = 10_000, minReloadMs = 1_000, now = Date.now) {
  const cache = new Map<string, Loaded>();
  const stale = (entry: Loaded | undefined, kid: string) => !entry || now() - entry.at > ttlMs || (!entry.keys.has(kid) && now() - entry.at > minReloadMs);
  return async (zoneId: string, kid: string): Promise<KeyObject | undefined | 'unknown_zone'> => {
    let entry = cache.get(zoneId);
    if (stale(entry, kid)) {
      const rows = await readZoneKeys(pool, zoneId);
      if (cache.size >= MAX_ZONES) cache.clear();
      entry = rows && { at: now(), keys: new Map(rows.map((r) => [r.kid, createPublicKey({ key: r.public_jwk, format: 'jwk' })])) };
      if (entry) cache.set(zoneId, entry);
      else cache.delete(zoneId);
    }
    if (!entry || entry.keys.size === 0) return 'unknown_zone';
    return entry.keys.get(kid);
  };
}
