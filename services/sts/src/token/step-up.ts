// Step-up approvals (R-STS-5): minting an approval-gated scope first records a pending approval and answers
// `interaction_required`; once an approver approves, the client retries with `approval_id`, which is consumed
// exactly once (a conditional UPDATE) and only for the same application, resource and scopes.
import type { StsContext } from '../context.js';
import { AccessDenied, InteractionRequired, InvalidGrant, orUnavailable } from './oauth-errors.js';

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
  const outcome = await orUnavailable(
    'postgres_unavailable',
    ctx.repo.approval({
      zoneId: i.zoneId,
      applicationId: i.applicationId,
      resourceId: i.resourceId,
      scopes,
      approvalId: i.approvalId,
      request: { sid: i.sid, client_id: i.clientId, resource: i.resource, gated },
      ttlSeconds: ctx.config.APPROVAL_TTL_SECONDS,
    }),
  );
  if ('created' in outcome) throw new InteractionRequired('approval_required', `scope ${gated.join(' ')} needs an approver; retry with approval_id once approved`, outcome.created);
  if ('consumed' in outcome) return outcome.consumed;
  const row = outcome.refused;
  if (!row || row.application_id !== i.applicationId || row.resource_id !== i.resourceId || [...row.scopes].sort().join(' ') !== scopes.join(' ')) {
    throw new InvalidGrant('approval_mismatch', 'approval_id does not match this request');
  }
  if (row.status === 'rejected') throw new AccessDenied('approval_rejected', 'the approver rejected this request');
  if (row.status === 'consumed') throw new InvalidGrant('approval_consumed', 'this approval was already used');
  if (row.expires_at <= new Date() || row.status === 'expired') throw new InvalidGrant('approval_expired', 'this approval has expired');
  throw new InteractionRequired('approval_pending', 'the approval is still pending', i.approvalId!);
}
