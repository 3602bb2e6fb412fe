// Every allow and deny is audited (R-GW-6). A decision about a mandate that did not verify is filed under the
// platform zone: the zone it names is attacker-chosen until its signature checks out, and filing there would let
// anyone append events to any zone's ledger.
import { PLATFORM_ZONE_ID } from '@caracal/db';
import type { Exchange } from './exchange.js';

export async function auditDecision(x: Exchange, decision: 'allow' | 'deny', reason: string, status: number): Promise<void> {
  const c = x.claims;
  await x.ctx.emit({
    zone_id: c?.zone_id ?? PLATFORM_ZONE_ID,
    type: decision === 'allow' ? 'gateway.allowed' : 'gateway.denied',
    decision,
    reason,
    request_id: x.req.id,
    resource: x.resource,
    ...(c ? { client_id: c.client_id, subject: c.sub } : {}),
    data: { method: x.req.method, status, ...(c ? { jti: c.jti, sid: c.sid } : { verified: false }) },
  });
}
