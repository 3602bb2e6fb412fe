// The coordinator's revocation records (R-STS-6): a revoked delegation edge or ended agent session is recorded in
// `revocations`, and its `caracal.sessions.revoke` message queued in the outbox (R-STR-5), in the transaction of the
// change. Only the root of each cut is recorded: mandates carry their whole delegation chain, so the gateway and the
// STS deny every descendant of a recorded id.
import { recordRevocations, type PoolClient } from '@caracal/db';
import { enqueueAll } from '@caracal/outbox';
import { revocationFields, STREAMS } from '@caracal/streams';

export interface RevokedTarget {
  type: 'agent_session' | 'delegation_edge';
  id: string;
}

/** Records the targets and queues one message per record; returns the messages' event ids. */
export async function recordCut(c: PoolClient, zoneId: string, targets: readonly RevokedTarget[], action: string, actor: string): Promise<string[]> {
  const rows = (await recordRevocations(c, zoneId, targets, action, actor)).map((r) => r.row);
  return rows.length === 0 ? [] : enqueueAll(c, STREAMS.sessionsRevoke, rows.map(revocationFields));
}
