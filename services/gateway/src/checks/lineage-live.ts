// Check: no record the mandate descends from is revoked (R-GW-1): its session, agent session, delegation edge, and
// every edge and source session of its signed delegation chain, so one revoked ancestor denies a whole subtree.
import { lineageIds } from '@caracal/mandates';
import { deny, established, type Exchange } from './exchange.js';

export function lineageNotRevoked(x: Exchange): void {
  const c = established(x.claims, 'the verified claims');
  if (x.ctx.revocations.isRevoked(lineageIds(c))) throw deny(x, 'lineage_revoked');
}
