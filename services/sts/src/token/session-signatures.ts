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
  protected readonly cache: BoundedCache<KeyObject>;

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

/**
 * Gateway mandates this process signed, kept from the moment `mint` signs them. The gateway presents each one once,
 * in its re-exchange; when it reaches the process that signed it, the ES256 check there would only confirm what this
 * process did itself, so it is skipped, under the same conditions as above: the SHA-256 of the exact token, the same
 * key object as the one the zone's key store resolves for its kid now (a rotated, retired or reloaded key verifies
 * afresh), every claim checked, the lineage read. A mandate signed by another STS process, or one evicted from this
 * bounded cache, is verified in full. A verification adds nothing here: only what `remember` was given is kept, and
 * an entry serves once (the gateway presents a mandate once; anything presented again is verified in full).
 */
export class IssuedSignatures extends SessionSignatures {
  /** `onCheck` hears, for each mandate whose key resolved, whether its ES256 check was skipped or done. */
  constructor(
    maxEntries = SESSION_SIGNATURES_MAX,
    now: () => number = Date.now,
    private readonly onCheck: (signature: 'remembered' | 'verified') => void = () => undefined,
  ) {
    super(maxEntries, now);
  }

  override has(token: string, key: KeyObject): boolean {
    const d = digest(token);
    const kept = this.cache.get(d) === key;
    if (kept) this.cache.delete(d);
    this.onCheck(kept ? 'remembered' : 'verified');
    return kept;
  }

  override add(): void {}

  remember(token: string, key: KeyObject, exp: number): void {
    super.add(token, key, exp);
  }
}
