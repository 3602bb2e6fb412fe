// Check: the revocation snapshot is fresh, or nothing is forwarded (fail closed, R-GW-1).
import { deny, type Exchange } from './exchange.js';

export function snapshotFresh(x: Exchange): void {
  if (x.ctx.revocations.stale()) throw deny(x, 'revocation_snapshot_stale');
}
