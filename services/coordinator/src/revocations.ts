// The coordinator's revocation records (R-STS-6): a revoked delegation edge or ended agent session is recorded in
// `revocations` in the transaction of the change, then announced on `caracal.sessions.revoke` after commit. Only the
// root of each cut is recorded: mandates carry their whole delegation chain, so the gateway and the STS deny every
// descendant of a recorded id.
import { recordRevocations, type PoolClient, type RecordedRevocation, type RevocationRow } from '@caracal/db';
import { announceRevocations } from '@caracal/streams';
import type { CoordinatorContext } from './context.js';

export interface RevokedTarget {
  type: 'agent_session' | 'delegation_edge';
  id: string;
}

export async function recordCut(c: PoolClient, zoneId: string, targets: readonly RevokedTarget[], action: string, actor: string): Promise<RevocationRow[]> {
  return (await recordRevocations(c, zoneId, targets, action, actor)).map((r: RecordedRevocation) => r.row);
}

/** Announces committed revocation records; a failed publish is logged and the gateways' snapshots converge. */
export function publishRevocations(ctx: CoordinatorContext, rows: readonly RevocationRow[]): Promise<number> {
  return announceRevocations({ redis: ctx.deps.redis, keys: ctx.deps.keys, hmacKey: ctx.config.STREAMS_HMAC_KEY, logger: ctx.logger }, rows);
}
