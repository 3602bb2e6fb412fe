// Applications: client ids carry their zone, secrets are 256-bit random and stored only as SHA-256 (R-DB-1).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { PoolClient } from '@caracal/db';

export interface ApplicationRow {
  id: string;
  zone_id: string;
  client_id: string;
  name: string;
  labels: string[];
  created_at: Date;
  secret_rotated_at: Date | null;
  disabled_at: Date | null;
}

const COLS = 'id, zone_id, client_id, name, labels, created_at, secret_rotated_at, disabled_at';

/** `ci_<zone id without dashes>_<random>`: the STS finds the zone (and so the RLS scope) from the id itself. */
export function newClientId(zoneId: string): string {
  return `ci_${zoneId.replace(/-/g, '')}_${randomBytes(12).toString('hex')}`;
}

export function newSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('hex');
  return { secret, hash: createHash('sha256').update(secret, 'utf8').digest('hex') };
}

export async function insertApplication(c: PoolClient, zoneId: string, name: string, labels: string[]) {
  const { secret, hash } = newSecret();
  const res = await c.query<ApplicationRow>(
    `INSERT INTO applications (id, zone_id, client_id, name, secret_hash, secret_alg, labels)
     VALUES ($1, $2, $3, $4, $5, 'sha256', $6) RETURNING ${COLS}`,
    [randomUUID(), zoneId, newClientId(zoneId), name, hash, labels],
  );
  return { ...res.rows[0]!, client_secret: secret };
}

export async function rotateSecret(c: PoolClient, id: string) {
  const { secret, hash } = newSecret();
  const res = await c.query<ApplicationRow>(
    `UPDATE applications SET secret_hash = $2, secret_alg = 'sha256', secret_rotated_at = now() WHERE id = $1 AND disabled_at IS NULL RETURNING ${COLS}`,
    [id, hash],
  );
  return res.rows[0] ? { ...res.rows[0], client_secret: secret } : undefined;
}

export async function listApplications(c: PoolClient): Promise<ApplicationRow[]> {
  return (await c.query<ApplicationRow>(`SELECT ${COLS} FROM applications ORDER BY name`)).rows;
}

/** By id or client id. */
export async function findApplication(c: PoolClient, ref: string): Promise<ApplicationRow | undefined> {
  const byId = /^[0-9a-f-]{36}$/.test(ref);
  return (await c.query<ApplicationRow>(`SELECT ${COLS} FROM applications WHERE ${byId ? 'id' : 'client_id'} = $1`, [ref])).rows[0];
}

export async function disableApplication(c: PoolClient, id: string): Promise<ApplicationRow | undefined> {
  const res = await c.query<ApplicationRow>(`UPDATE applications SET disabled_at = now() WHERE id = $1 AND disabled_at IS NULL RETURNING ${COLS}`, [id]);
  return res.rows[0];
}
