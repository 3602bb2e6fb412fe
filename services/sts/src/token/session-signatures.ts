// The session mandates whose signature this STS process has verified (R-STS-1): an application presents the same
// session mandate on every exchange, and ES256 verification was a quarter of an exchange's STS CPU. Kept by the
// SHA-256 of the whole token with the key object that verified it, until the token expires; a bounded cache, so
// tokens an attacker has had issued can evict entries but never grow memory. What this skips is only the signature
// arithmetic: the key is resolved, the claims checked and the lineage read (revocation) on every exchange.
import { createHash, type KeyObject } from 'node:crypto';
import type { VerifiedSignatures } from '@caracal/mandates';
import { BoundedCache } from '../authority/index.js';

export const SESSION_SIGNATURES_MAX = 20_000;

const digest = (token: string) => createHash('sha256').update(token).digest('base64');

export class SessionSignatures implements VerifiedSignatures {
  private readonly cache: BoundedCache<KeyObject>;

  constructor(
    maxEntries = SESSION_SIGNATURES_MAX,
    private readonly now: () => number = Date.now,
  ) {
    this.cache = new BoundedCache({ maxEntries, now });
  }

  has(token: string, key: KeyObject): boolean {
    return this.cache.get(digest(token)) === key;
  }

  add(token: string, key: KeyObject, exp: number): void {
    const ttl = exp * 1000 - this.now();
    if (ttl > 0) this.cache.set(digest(token), key, ttl);
  }
}
