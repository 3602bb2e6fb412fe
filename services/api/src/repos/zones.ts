// Zones: global rows (not zone-owned), resolved by id or slug.
import type { Pool, PoolClient } from '@caracal/db';
import { NotFound } from '@caracal/service-kit';

export interface ZoneRow {
  id: string;
  slug: string;
  name: string;
  created_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COLS = 'id, slug, name, created_at';

export async function resolveZone(pool: Pool, ref: string): Promise<ZoneRow> {
  const res = UUID.test(ref)
    ? await pool.query<ZoneRow>(`SELECT ${COLS} FROM zones WHERE id = $1 AND disabled_at IS NULL`, [ref])
    : await pool.query<ZoneRow>(`SELECT ${COLS} FROM zones WHERE slug = $1 AND disabled_at IS NULL`, [ref]);
  const zone = res.rows[0];
  if (!zone) throw new NotFound(`zone '${ref}' does not exist`);
  return zone;
}

export async function listZones(pool: Pool, onlyId: string | null): Promise<ZoneRow[]> {
  const res = onlyId
    ? await pool.query<ZoneRow>(`SELECT ${COLS} FROM zones WHERE id = $1 AND disabled_at IS NULL`, [onlyId])
    : await pool.query<ZoneRow>(`SELECT ${COLS} FROM zones WHERE disabled_at IS NULL ORDER BY slug`);
  return res.rows;
}

export async function insertZone(client: PoolClient, slug: string, name: string): Promise<ZoneRow> {
  const res = await client.query<ZoneRow>(`INSERT INTO zones (slug, name) VALUES ($1, $2) RETURNING ${COLS}`, [slug, name]);
  return res.rows[0]!;
}
