// Resources: upstream, sealed credential (never read back out through the api), placement, operations.
import { randomUUID } from 'node:crypto';
import type { PoolClient } from '@caracal/db';
import { seal } from '@caracal/seal';

export interface Placement {
  in: 'header' | 'query';
  name: string;
  prefix?: string;
}
export interface Operation {
  method: string;
  path: string;
  scope: string;
}
export interface ResourceInput {
  identifier: string;
  upstream_url: string;
  credential?: string;
  auth_placement?: Placement;
  operations?: Operation[];
}

const COLS = 'id, zone_id, identifier, upstream_url, credential_sealed IS NOT NULL AS has_credential, auth_placement, operations, created_at';

/** AAD of a resource credential: the zone and the row it belongs to (the STS opens it with the same string). */
export const credentialContext = (zoneId: string, resourceId: string) => `resource-credential:${zoneId}:${resourceId}`;

export async function insertResource(c: PoolClient, zoneId: string, input: ResourceInput, kek: string) {
  const id = randomUUID();
  const sealed = input.credential === undefined ? null : seal(kek, input.credential, credentialContext(zoneId, id));
  const placement = input.auth_placement ?? { in: 'header', name: 'authorization', prefix: 'Bearer ' };
  const res = await c.query(
    `INSERT INTO resources (id, zone_id, identifier, upstream_url, credential_sealed, auth_placement, operations)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLS}`,
    [id, zoneId, input.identifier, input.upstream_url, sealed, JSON.stringify(placement), JSON.stringify(input.operations ?? [])],
  );
  return res.rows[0];
}

export async function listResources(c: PoolClient) {
  return (await c.query(`SELECT ${COLS} FROM resources ORDER BY identifier`)).rows;
}

/** By id, identifier (`resource://name`) or bare name. */
export async function findResource(c: PoolClient, ref: string) {
  const byId = /^[0-9a-f-]{36}$/.test(ref);
  const value = byId || ref.startsWith('resource://') ? ref : `resource://${ref}`;
  return (await c.query(`SELECT ${COLS} FROM resources WHERE ${byId ? 'id' : 'identifier'} = $1`, [value])).rows[0] as { id: string; identifier: string } | undefined;
}

export async function deleteResource(c: PoolClient, id: string) {
  return (await c.query(`DELETE FROM resources WHERE id = $1 RETURNING ${COLS}`, [id])).rows[0];
}
