// Per-zone signing keys (R-STS-2): the first mint in a zone creates its key; private halves are sealed with the
// KEK in Postgres and cached opened for a short while. Any failure here throws, and callers deny.
// Zone ids arrive unverified (a token's claim, a JWKS query): an unknown zone is refused by the zone directory
// before any key is loaded, the cache is bounded, and an unknown kid reloads a zone at most once per interval.
import type { KeyObject } from 'node:crypto';
import { withZone, type Pool } from '@caracal/db';
import { createZoneKey, openZoneKey, publicKeyOf, type PublicJwk } from '@caracal/mandates';
import { BoundedCache } from '../authority/bounded-cache.js';
import { ZoneDirectory } from '../authority/zone-directory.js';

type Key = KeyObject;
type JWK = PublicJwk;

interface KeyRow {
  kid: string;
  status: 'active' | 'previous' | 'retired';
  public_jwk: JWK;
  private_sealed: Buffer;
  retire_after: Date | null;
}

interface ZoneKeys {
  loadedAt: number;
  /** `publicKey` is the very object `verifying` holds for the kid, so it is what `verifyKey` answers while this load lasts. */
  active: { kid: string; key: Key; publicKey: Key } | undefined;
  /** Keys that still verify: the active one and, during overlap, the previous one. */
  verifying: Map<string, { key: Key; jwk: JWK; retireAfter: number | null }>;
}

export interface KeyStoreOptions {
  pool: Pool;
  kek: string | undefined;
  /** Shared with other users of the zone directory; one is built from `pool` otherwise. */
  directory?: ZoneDirectory;
  ttlMs?: number;
  maxZones?: number;
  /** An unknown kid reloads a zone's keys at most once per this interval. */
  minReloadMs?: number;
  now?: () => number;
}

export class KeyStore {
  private readonly zones: BoundedCache<ZoneKeys>;
  private readonly loading = new Map<string, Promise<ZoneKeys>>();
  private readonly ttlMs: number;
  private readonly minReloadMs: number;
  private readonly now: () => number;
  readonly directory: ZoneDirectory;

  constructor(private readonly opts: KeyStoreOptions) {
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.minReloadMs = opts.minReloadMs ?? 1_000;
    this.now = opts.now ?? Date.now;
    this.zones = new BoundedCache({ maxEntries: opts.maxZones ?? 1_000, now: this.now });
    this.directory = opts.directory ?? new ZoneDirectory({ pool: opts.pool, now: this.now });
  }

  get cachedZones(): number {
    return this.zones.size;
  }

  invalidate(zoneId?: string): void {
    if (zoneId) this.zones.delete(zoneId);
    else this.zones.clear();
  }

  private kek(): string {
    if (!this.opts.kek) throw new Error('SECRET_STORE_KEK is not configured');
    return this.opts.kek;
  }

  private async load(zoneId: string): Promise<ZoneKeys> {
    const rows = await withZone(this.opts.pool, zoneId, async (c) =>
      (
        await c.query<KeyRow>(
          "SELECT kid, status, public_jwk, private_sealed, retire_after FROM signing_keys WHERE status IN ('active', 'previous') AND (retire_after IS NULL OR retire_after > now())",
        )
      ).rows,
    );
    const verifying = new Map<string, { key: Key; jwk: JWK; retireAfter: number | null }>();
    let active: ZoneKeys['active'];
    for (const r of rows) {
      const publicKey = publicKeyOf(r.public_jwk);
      verifying.set(r.kid, { key: publicKey, jwk: r.public_jwk, retireAfter: r.retire_after?.getTime() ?? null });
      if (r.status === 'active') active = { kid: r.kid, key: await openZoneKey(this.kek(), zoneId, r.kid, r.private_sealed), publicKey };
    }
    return { loadedAt: this.now(), active, verifying };
  }

  private async zone(zoneId: string, fresh = false): Promise<ZoneKeys> {
    const cached = this.zones.get(zoneId);
    if (cached && (!fresh || this.now() - cached.loadedAt < this.minReloadMs)) return cached;
    let p = this.loading.get(zoneId);
    if (!p) {
      p = this.load(zoneId).finally(() => this.loading.delete(zoneId));
      this.loading.set(zoneId, p);
    }
    const z = await p;
    this.zones.set(zoneId, z, this.ttlMs);
    return z;
  }

  /** The active signing key, creating the zone's first key when it has none. */
  async signingKey(zoneId: string): Promise<{ kid: string; key: Key; publicKey: Key }> {
    const z = await this.zone(zoneId);
    if (z.active) return z.active;
    const created = await createZoneKey(this.kek(), zoneId);
    await withZone(this.opts.pool, zoneId, (c) =>
      // The partial unique index allows one active key per zone: a concurrent first mint simply loses the race.
      c.query("INSERT INTO signing_keys (kid, zone_id, public_jwk, private_sealed, status) VALUES ($1, $2, $3, $4, 'active') ON CONFLICT DO NOTHING", [
        created.kid,
        zoneId,
        JSON.stringify(created.publicJwk),
        created.privateSealed,
      ]),
    );
    this.zones.delete(zoneId);
    const reloaded = await this.zone(zoneId);
    if (!reloaded.active) throw new Error('no active signing key after creating one');
    return reloaded.active;
  }

  /** A verifying key by kid; an unknown kid triggers one reload (a rotation may have just happened). */
  async verifyKey(zoneId: string, kid: string): Promise<Key | undefined> {
    if (!(await this.directory.exists(zoneId))) return undefined;
    const usable = (z: ZoneKeys) => {
      const k = z.verifying.get(kid);
      return k && (k.retireAfter === null || k.retireAfter > this.now()) ? k.key : undefined;
    };
    const z = await this.zone(zoneId);
    return usable(z) ?? usable(await this.zone(zoneId, true));
  }

  /** Public JWKS of the zone: the active key and the previous one during overlap. */
  async jwks(zoneId: string): Promise<JWK[]> {
    if (!(await this.directory.exists(zoneId))) return [];
    const z = await this.zone(zoneId);
    return [...z.verifying.values()].filter((k) => k.retireAfter === null || k.retireAfter > this.now()).map((k) => k.jwk);
  }
}
