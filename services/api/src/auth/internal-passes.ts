// One-time passes for requests the api makes to itself (the control endpoint, R-CTL-1): a random 256-bit bearer,
// held only in this process, that stands for a given principal for exactly one request. Nothing outside the
// process can learn one, and a pass is gone once it is presented or its call is over.
import { randomBytes } from 'node:crypto';
import type { AdminPrincipal } from './admin-auth.js';

export class InternalPasses {
  readonly #open = new Map<string, AdminPrincipal>();

  /** Runs `call` with a fresh pass for `principal`; the pass is withdrawn when the call ends, used or not. */
  async with<T>(principal: AdminPrincipal, call: (bearer: string) => Promise<T>): Promise<T> {
    const bearer = randomBytes(32).toString('hex');
    this.#open.set(bearer, principal);
    try {
      return await call(bearer);
    } finally {
      this.#open.delete(bearer);
    }
  }

  /** The principal a presented bearer stands for, once. */
  take(bearer: string): AdminPrincipal | undefined {
    const principal = this.#open.get(bearer);
    this.#open.delete(bearer);
    return principal;
  }
}
