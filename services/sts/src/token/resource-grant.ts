// The resource a request targets and the application's grant on it, read in the zone's transaction.
import type { PoolClient } from '@caracal/db';

export interface Operation {
  method: string;
  path: string;
  scope: string;
}

export interface ResourceGrant {
  resourceId: string;
  identifier: string;
  upstreamUrl: string;
  operations: Operation[];
  placement: { in: 'header' | 'query'; name: string; prefix?: string };
  credentialSealed: Buffer | null;
  /** null when the application holds no grant on this resource. */
  grant: { scopes: string[]; maxTtlSeconds: number; approvalScopes: string[] } | null;
}

export async function findResourceGrant(c: PoolClient, identifier: string, applicationId: string): Promise<ResourceGrant | undefined> {
  const res = await c.query(
    `SELECT r.id, r.identifier, r.upstream_url, r.operations, r.auth_placement, r.credential_sealed, g.scopes, g.max_ttl_seconds, g.approval_scopes
       FROM resources r LEFT JOIN grants g ON g.resource_id = r.id AND g.application_id = $2 AND g.revoked_at IS NULL
      WHERE r.identifier = $1`,
    [identifier, applicationId],
  );
  const r = res.rows[0];
  if (!r) return undefined;
  return {
    resourceId: r.id,
    identifier: r.identifier,
    upstreamUrl: r.upstream_url,
    operations: r.operations,
    placement: r.auth_placement,
    credentialSealed: r.credential_sealed,
    grant: r.scopes ? { scopes: r.scopes, maxTtlSeconds: r.max_ttl_seconds, approvalScopes: r.approval_scopes ?? [] } : null,
  };
}

/** The scope an operation needs: the first rule whose method and path (exact, or prefix with a trailing *) match. */
export function requiredScope(ops: readonly Operation[], method: string, path: string): string | null {
  const pathOnly = path.split('?')[0] ?? path;
  for (const op of ops) {
    if (op.method !== '*' && op.method !== method.toUpperCase()) continue;
    const matches = op.path.endsWith('*') ? pathOnly.startsWith(op.path.slice(0, -1)) : pathOnly === op.path;
    if (matches) return op.scope;
  }
  return null;
}
