// The zones' public keys, fetched from the STS JWKS (R-GW-1): cached, refetched once on an unknown kid with a
// per-zone cooldown, never following redirects. A fetch failure throws, so verification denies.
// The zone id it is asked for comes from a mandate whose signature is not checked yet, so the work it may cause
// is bounded: at most `maxZones` entries (least recently used evicted), a zone that publishes no keys is
// remembered as unknown for `negativeTtlMs`, and zones the revocation snapshot has never seen may cause at most
// `unknownZoneFetchesPerMin` fetches a minute across all of them; past that they are refused without a fetch.
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { publicKeyOf, type KeyResolver } from '@caracal/mandates';

interface ZoneEntry {
  keys: Map<string, KeyObject>;
  fetchedAt: number;
}

export interface JwksCacheOptions {
  stsUrl: string;
  maxAgeMs?: number;
  cooldownMs: number;
  timeoutMs: number;
  maxZones: number;
  negativeTtlMs: number;
  unknownZoneFetchesPerMin: number;
  /** Zones known to exist (the revocation snapshot reads them); their fetches are not rationed. */
  knownZone: (zoneId: string) => boolean;
  now?: () => number;
  fetchImpl?: typeof fetch;
}

const MINUTE_MS = 60_000;

export class JwksCache {
  private readonly zones = new Map<string, ZoneEntry>();
  private readonly inflight = new Map<string, Promise<ZoneEntry>>();
  private readonly now: () => number;
  private window = { startedAt: -Infinity, used: 0 };

  constructor(private readonly o: JwksCacheOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Number of zones held (for tests and metrics); never more than `maxZones`. */
  get size(): number {
    return this.zones.size;
  }

  private async fetchZone(zoneId: string): Promise<ZoneEntry> {
    const res = await (this.o.fetchImpl ?? fetch)(`${this.o.stsUrl}/.well-known/jwks.json?zone_id=${encodeURIComponent(zoneId)}`, {
      redirect: 'error',
      signal: AbortSignal.timeout(this.o.timeoutMs),
    });
    if (res.status !== 200) throw new Error(`JWKS fetch answered ${res.status}`);
    const body = (await res.json()) as { keys?: Array<JsonWebKey & { kid?: unknown }> };
    const keys = new Map<string, KeyObject>();
    for (const jwk of body.keys ?? []) {
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.kid !== 'string' || 'd' in jwk) continue;
      keys.set(jwk.kid, publicKeyOf(jwk));
    }
    return { keys, fetchedAt: this.now() };
  }

  private async refresh(zoneId: string): Promise<ZoneEntry> {
    let p = this.inflight.get(zoneId);
    if (!p) {
      p = this.fetchZone(zoneId).finally(() => this.inflight.delete(zoneId));
      this.inflight.set(zoneId, p);
    }
    const entry = await p;
    this.zones.delete(zoneId);
    this.zones.set(zoneId, entry);
    // Map iteration is insertion order and every use re-inserts: the first key is the least recently used.
    while (this.zones.size > this.o.maxZones) this.zones.delete(this.zones.keys().next().value as string);
    return entry;
  }

  /** The entry if present and not expired, marked as most recently used. */
  private cached(zoneId: string): ZoneEntry | undefined {
    const entry = this.zones.get(zoneId);
    if (!entry) return undefined;
    const ttl = entry.keys.size === 0 ? this.o.negativeTtlMs : (this.o.maxAgeMs ?? 300_000);
    this.zones.delete(zoneId);
    if (this.now() - entry.fetchedAt > ttl) return undefined;
    this.zones.set(zoneId, entry);
    return entry;
  }

  /** One fetch for a zone nobody has seen yet, if this minute's ration allows it. */
  private rationUnknown(): boolean {
    const now = this.now();
    if (now - this.window.startedAt >= MINUTE_MS) this.window = { startedAt: now, used: 0 };
    if (this.window.used >= this.o.unknownZoneFetchesPerMin) return false;
    this.window.used += 1;
    return true;
  }

  readonly resolve: KeyResolver = async (zoneId, kid) => {
    let entry = this.cached(zoneId);
    if (!entry) {
      if (!this.o.knownZone(zoneId) && !this.rationUnknown()) return 'unknown_zone';
      entry = await this.refresh(zoneId);
    }
    if (entry.keys.size === 0) return 'unknown_zone';
    const hit = entry.keys.get(kid);
    if (hit) return hit;
    // Unknown kid: perhaps a rotation. Refetch once, unless this zone was fetched within the cooldown.
    if (this.now() - entry.fetchedAt < this.o.cooldownMs) return undefined;
    return (await this.refresh(zoneId)).keys.get(kid);
  };

  /** A rotation or revocation of keys was announced: forget what we have (of every zone when none is named). */
  invalidate(zoneId?: string): void {
    if (zoneId === undefined) this.zones.clear();
    else this.zones.delete(zoneId);
  }
}
