// The zones' public keys, fetched from the STS JWKS (R-GW-1): cached, refetched once on an unknown kid with a
// per-zone cooldown, never following redirects. A fetch failure throws, so verification denies.
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
  now?: () => number;
  fetchImpl?: typeof fetch;
}

export class JwksCache {
  private readonly zones = new Map<string, ZoneEntry>();
  private readonly inflight = new Map<string, Promise<ZoneEntry>>();
  private readonly now: () => number;

  constructor(private readonly o: JwksCacheOptions) {
    this.now = o.now ?? Date.now;
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
    this.zones.set(zoneId, entry);
    return entry;
  }

  readonly resolve: KeyResolver = async (zoneId, kid) => {
    const maxAge = this.o.maxAgeMs ?? 300_000;
    let entry = this.zones.get(zoneId);
    if (!entry || this.now() - entry.fetchedAt > maxAge) entry = await this.refresh(zoneId);
    const hit = entry.keys.get(kid);
    if (hit) return hit;
    // Unknown kid: perhaps a rotation. Refetch once, unless this zone was fetched within the cooldown.
    if (this.now() - entry.fetchedAt < this.o.cooldownMs) return undefined;
    return (await this.refresh(zoneId)).keys.get(kid);
  };

  /** A rotation or revocation of keys was announced: forget what we have. */
  invalidate(zoneId: string): void {
    this.zones.delete(zoneId);
  }
}
