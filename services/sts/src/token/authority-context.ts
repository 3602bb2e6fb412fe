// Everything the STS must know before deciding, read in one round trip (migration 0007): the lineage of the
// presented mandate (session, application, revocations of any link) and the application's grant on the resource.
import type { Pool } from '@caracal/db';
import type { ResourceGrant } from './resource-grant.js';

export interface Lineage {
  sid: string;
  clientId: string;
  agentSessionId?: string;
  delegationEdgeId?: string;
}

export interface LineageState {
  applicationId: string;
  sessionExpiresAt: Date;
}

export type LineageResult = { ok: true; state: LineageState } | { ok: false; reason: string };

export interface AuthorityContext {
  lineage: LineageResult;
  /** undefined when the resource does not exist in the zone. */
  rg: ResourceGrant | undefined;
}

interface Row {
  session_found: boolean;
  session_expires_at: Date | null;
  lineage_revoked: boolean | null;
  application_id: string | null;
  client_matches: boolean;
  resource_id: string | null;
  identifier: string;
  upstream_url: string;
  operations: ResourceGrant['operations'];
  auth_placement: ResourceGrant['placement'];
  credential_sealed: Buffer | null;
  scopes: string[] | null;
  max_ttl_seconds: number;
  approval_scopes: string[];
}

export async function loadAuthorityContext(pool: Pool, zoneId: string, l: Lineage, resource: string, now = new Date()): Promise<AuthorityContext> {
  const ids = [l.sid, l.agentSessionId, l.delegationEdgeId].filter((x): x is string => typeof x === 'string');
  const res = await pool.query<Row>({
    name: 'caracal_authority_context',
    text: 'SELECT * FROM caracal.authority_context($1, $2, $3, $4, $5)',
    values: [zoneId, l.sid, l.clientId, ids, resource],
  });
  const r = res.rows[0]!;
  const rg: ResourceGrant | undefined = r.resource_id
    ? {
        resourceId: r.resource_id,
        identifier: r.identifier,
        upstreamUrl: r.upstream_url,
        operations: r.operations,
        placement: r.auth_placement,
        credentialSealed: r.credential_sealed,
        grant: r.scopes ? { scopes: r.scopes, maxTtlSeconds: r.max_ttl_seconds, approvalScopes: r.approval_scopes ?? [] } : null,
      }
    : undefined;
  let lineage: LineageResult;
  if (!r.session_found) lineage = { ok: false, reason: 'session_unknown' };
  else if (!r.client_matches) lineage = { ok: false, reason: 'lineage_mismatch' };
  else if (r.lineage_revoked) lineage = { ok: false, reason: 'lineage_revoked' };
  else if (r.session_expires_at!.getTime() <= now.getTime()) lineage = { ok: false, reason: 'session_expired' };
  else lineage = { ok: true, state: { applicationId: r.application_id!, sessionExpiresAt: r.session_expires_at! } };
  return { lineage, rg };
}
