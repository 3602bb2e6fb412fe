// The approvals store (R-STS-5): records a pending approval, or consumes an approved one exactly once with a
// conditional UPDATE that only matches the same application, resource and scopes.
import { withZone, type Pool } from '@caracal/db';

export interface ApprovalRequest {
  zoneId: string;
  applicationId: string;
  resourceId: string;
  /** Sorted, so the stored set compares equal whatever order the client asked in. */
  scopes: string[];
  approvalId: string | undefined;
  /** What an approver is shown. */
  request: Record<string, unknown>;
  ttlSeconds: number;
}

export interface ApprovalRow {
  status: string;
  expires_at: Date;
  application_id: string;
  resource_id: string;
  scopes: string[];
}

export type ApprovalOutcome = { created: string } | { consumed: string } | { refused: ApprovalRow | undefined };

export function recordOrConsumeApproval(pool: Pool, i: ApprovalRequest): Promise<ApprovalOutcome> {
  return withZone(pool, i.zoneId, async (c) => {
    if (!i.approvalId) {
      const ins = await c.query<{ id: string }>(
        `INSERT INTO approvals (zone_id, application_id, resource_id, scopes, request, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING id`,
        [i.zoneId, i.applicationId, i.resourceId, i.scopes, JSON.stringify(i.request), i.ttlSeconds],
      );
      return { created: ins.rows[0]!.id };
    }
    const consumed = await c.query(
      `UPDATE approvals SET status = 'consumed', consumed_at = now()
        WHERE id = $1 AND status = 'approved' AND expires_at > now()
          AND application_id = $2 AND resource_id = $3 AND scopes @> $4::text[] AND scopes <@ $4::text[]
        RETURNING id`,
      [i.approvalId, i.applicationId, i.resourceId, i.scopes],
    );
    if (consumed.rowCount === 1) return { consumed: i.approvalId };
    const row = (await c.query<ApprovalRow>('SELECT status, expires_at, application_id, resource_id, scopes FROM approvals WHERE id = $1', [i.approvalId])).rows[0];
    return { refused: row };
  });
}
