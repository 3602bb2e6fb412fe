// Check: no record the mandate descends from (session, agent session, delegation edge) is revoked (R-GW-1).
import { deny, established, type Exchange } from './exchange.js';

export function lineageNotRevoked(x: Exchange): void {
  const c = established(x.claims, 'the verified claims');
  if (x.ctx.revocations.isRevoked([c.sid, c.agent_session_id, c.delegation_edge_id])) throw deny(x, 'lineage_revoked');
}
