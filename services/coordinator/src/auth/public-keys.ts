// The zones' public signing keys for verifying session mandates (R-STS-2): read from Postgres (public halves only,
// migration 0013), cached briefly; an unknown kid reloads its zone at most once per interval. Failures throw.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { withZone, type Pool } from '@caracal/db';
import type { KeyResolver } from '@caracal/mandates';

interface ZoneKeys {
  loadedAt: number;
  keys: Map<string, KeyObject>;
}

export function publicKeyResolver(pool: Pool, ttlMs = 10_000, minReloadMs = 1_000, now = Date.now): KeyResolver {
  const zones = new Map<string, ZoneKeys>();
  const load = async (zoneId: string): Promise<ZoneKeys | undefined> => {
    const rows = await withZone(pool, zoneId, async (c) => {
      if ((await c.query('SELECT 1 FROM zones WHERE id = $1', [zoneId])).rowCount !== 1) return undefined;
      return (
        await c.query<{ kid: string; public_jwk: Record<string, string> }>(
          "SELECT kid, public_jwk FROM signing_keys WHERE status IN ('active', 'previous') AND (retire_after IS NULL OR retire_after > now())",
        )
      ).rows;
    });
    if (!rows) return undefined;
    const entry = { loadedAt: now(), keys: new Map(rows.map((r) => [r.kid, createPublicKey({ key: r.public_jwk, format: 'jwk' })])) };
    // Bounded: a flood of forged zone ids cannot grow the cache without limit.
    if (zones.size >= 1000) zones.clear();
    zones.set(zoneId, entry);
    return entry;
  };
  return async (zoneId, kid) => {
    let entry = zones.get(zoneId);
    if (!entry || now() - entry.loadedAt > ttlMs || (!entry.keys.has(kid) && now() - entry.loadedAt > minReloadMs)) entry = await load(zoneId);
    if (!entry || entry.keys.size === 0) return 'unknown_zone';
    return entry.keys.get(kid);
  };
}
