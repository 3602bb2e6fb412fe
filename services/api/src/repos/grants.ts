// Grants: application → resource → scopes (and roles), with the longest mandate lifetime allowed.
import type { PoolClient } from '@caracal/db';

const COLS = `g.id, g.zone_id, g.application_id, g.resource_id, r.identifier AS resource, a.client_id, g.roles, g.scopes, g.approval_scopes, g.max_ttl_seconds, g.created_at`;
const FROM = 'grants g JOIN resources r ON r.id = g.resource_id JOIN applications a ON a.id = g.application_id';

export interface GrantInput {
  applicationId: string;
  resourceId: string;
  scopes: string[];
  roles: string[];
  approvalScopes: string[];
  maxTtlSeconds: number;
}

export async function insertGrant(c: PoolClient, zoneId: string, g: GrantInput) {
  const ins = await c.query<{ id: string }>(
    'INSERT INTO grants (zone_id, application_id, resource_id, scopes, roles, approval_scopes, max_ttl_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
    [zoneId, g.applicationId, g.resourceId, g.scopes, g.roles, g.approvalScopes, g.maxTtlSeconds],
  );
  return (await c.query(`SELECT ${COLS} FROM ${FROM} WHERE g.id = $1`, [ins.rows[0]!.id])).rows[0];
}

export async function listGrants(c: PoolClient) {
  return (await c.query(`SELECT ${COLS} FROM ${FROM} WHERE g.revoked_at IS NULL ORDER BY g.created_at`)).rows;
}

export async function deleteGrant(c: PoolClient, id: string) {
  const found = (await c.query(`SELECT ${COLS} FROM ${FROM} WHERE g.id = $1`, [id])).rows[0];
  if (found) await c.query('DELETE FROM grants WHERE id = $1', [id]);
  return found;
}
