// Step-up approvals (R-STS-5): minting an approval-gated scope first records a pending approval and answers
// `interaction_required`; once an approver approves, the client retries with `approval_id`, which is consumed
// exactly once (a conditional UPDATE) and only for the same application, resource and scopes.
import { withZone } from '@caracal/db';
import type { StsContext } from '../context.js';
import { AccessDenied, InteractionRequired, InvalidGrant, TemporarilyUnavailable } from './oauth-errors.js';

export interface StepUpInput {
  zoneId: string;
  applicationId: string;
  resourceId: string;
  resource: string;
  scopes: string[];
  gated: string[];
  sid: string;
  clientId: string;
  approvalId: string | undefined;
}

export async function requireApproval(ctx: StsContext, i: StepUpInput): Promise<string | undefined> {
  const gated = i.scopes.filter((s) => i.gated.includes(s));
  if (gated.length === 0) return undefined;
  const scopes = [...i.scopes].sort();
  const outcome = await withZone(ctx.deps.pool, i.zoneId, async (c) => {
    if (!i.approvalId) {
      const ins = await c.query<{ id: string }>(
        `INSERT INTO approvals (zone_id, application_id, resource_id, scopes, request, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING id`,
        [i.zoneId, i.applicationId, i.resourceId, scopes, JSON.stringify({ sid: i.sid, client_id: i.clientId, resource: i.resource, gated }), ctx.config.APPROVAL_TTL_SECONDS],
      );
      return { created: ins.rows[0]!.id };
    }
    const consumed = await c.query(
      `UPDATE approvals SET status = 'consumed', consumed_at = now()
        WHERE id = $1 AND status = 'approved' AND expires_at > now()
          AND application_id = $2 AND resource_id = $3 AND scopes @> $4::text[] AND scopes <@ $4::text[]
        RETURNING id`,
      [i.approvalId, i.applicationId, i.resourceId, scopes],
    );
    if (consumed.rowCount === 1) return { consumed: i.approvalId };
    const row = (await c.query('SELECT status, expires_at, application_id, resource_id, scopes FROM approvals WHERE id = $1', [i.approvalId])).rows[0];
    return { refused: row };
  }).catch((err: Error) => {
    throw new TemporarilyUnavailable('postgres_unavailable', err.message);
  });
  if ('created' in outcome) throw new InteractionRequired('approval_required', `scope ${gated.join(' ')} needs an approver; retry with approval_id once approved`, outcome.created!);
  if ('consumed' in outcome) return outcome.consumed;
  const row = outcome.refused as { status: string; expires_at: Date; application_id: string; resource_id: string; scopes: string[] } | undefined;
  if (!row || row.application_id !== i.applicationId || row.resource_id !== i.resourceId || [...row.scopes].sort().join(' ') !== scopes.join(' ')) {
    throw new InvalidGrant('approval_mismatch', 'approval_id does not match this request');
  }
  if (row.status === 'rejected') throw new AccessDenied('approval_rejected', 'the approver rejected this request');
  if (row.status === 'consumed') throw new InvalidGrant('approval_consumed', 'this approval was already used');
  if (row.expires_at <= new Date() || row.status === 'expired') throw new InvalidGrant('approval_expired', 'this approval has expired');
  throw new InteractionRequired('approval_pending', 'the approval is still pending', i.approvalId!);
}
