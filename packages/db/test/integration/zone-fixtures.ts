// Valid rows for every zone-owned table, so isolation tests can seed both zones and attempt writes per table.
import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';

/** Zone-owned tables (R-DB-2), in an order that satisfies their foreign keys. */
export const ZONE_TABLES = [
  'applications',
  'resources',
  'grants',
  'policy_sets',
  'policy_set_versions',
  'authority_sessions',
  'agent_sessions',
  'delegation_edges',
  'approvals',
  'revocations',
  'signing_keys',
  'idempotency_keys',
  'outbox',
  'audit_events',
  'audit_chain_anchors',
  'audit_chain_heads',
] as const;
export type ZoneTable = (typeof ZONE_TABLES)[number];

export interface ZoneFixture {
  zoneId: string;
  applicationId: string;
  resourceId: string;
  /** A resource no grant points at, so a new grant row does not collide with the seeded one. */
  spareResourceId: string;
  policySetId: string;
  authoritySessionId: string;
  agentSessionIds: [string, string];
}

const hex64 = () => randomBytes(32).toString('hex');
const tag = () => randomBytes(4).toString('hex');
const inAnHour = () => new Date(Date.now() + 3_600_000);

/** One new, valid row of `table` in the fixture's zone (fresh values for every unique column). */
export function rowFor(table: ZoneTable, z: ZoneFixture): Record<string, unknown> {
  const zone_id = z.zoneId;
  switch (table) {
    case 'applications':
      return { zone_id, client_id: `app-${tag()}`, name: `app ${tag()}`, secret_hash: hex64(), secret_alg: 'sha256' };
    case 'resources':
      return { zone_id, identifier: `resource://r-${tag()}`, upstream_url: 'http://127.0.0.1:9/' };
    case 'grants':
      return { zone_id, application_id: z.applicationId, resource_id: z.spareResourceId, scopes: ['read'] };
    case 'policy_sets':
      return { zone_id, name: `set-${tag()}` };
    case 'policy_set_versions':
      return {
        zone_id,
        policy_set_id: z.policySetId,
        version: 1 + randomBytes(3).readUIntBE(0, 3),
        rego_source: 'package caracal',
        wasm_bundle: Buffer.from([0, 97, 115, 109]),
        bundle_sha256: hex64(),
        entrypoint: 'caracal/allow',
        created_by: 'test',
      };
    case 'authority_sessions':
      return { zone_id, application_id: z.applicationId, expires_at: inAnHour() };
    case 'agent_sessions':
      return { zone_id, application_id: z.applicationId, authority_session_id: z.authoritySessionId, ttl_seconds: 600, expires_at: inAnHour() };
    case 'delegation_edges':
      return {
        zone_id,
        source_session_id: z.agentSessionIds[0],
        target_session_id: z.agentSessionIds[1],
        scopes: ['read'],
        hop_count: 1,
        expires_at: inAnHour(),
      };
    case 'approvals':
      return { zone_id, application_id: z.applicationId, resource_id: z.resourceId, scopes: ['write'], expires_at: inAnHour() };
    case 'revocations':
      return { zone_id, target_type: 'application', target_id: randomUUID(), revoked_by: 'test' };
    case 'signing_keys':
      // 'previous', not 'active': one active key per zone is a unique index.
      return { kid: `kid-${tag()}`, zone_id, public_jwk: { kty: 'EC' }, private_sealed: Buffer.from('sealed'), status: 'previous' };
    case 'idempotency_keys':
      return { zone_id, key_digest: hex64(), request_digest: hex64(), expires_at: inAnHour() };
    case 'outbox':
      return { zone_id, stream: 'caracal:test', payload: { t: tag() } };
    case 'audit_events':
      return {
        event_id: randomUUID(),
        zone_id,
        chain_seq: 1 + randomBytes(4).readUInt32BE(0),
        occurred_at: new Date(),
        source: 'test',
        event_type: 'test.event',
        data: {},
        content_sha256: hex64(),
        prev_content_sha256: hex64(),
        chain_hmac: hex64(),
      };
    case 'audit_chain_anchors':
      return { zone_id, through_seq: 1 + randomBytes(4).readUInt32BE(0), content_sha256: hex64(), partition_name: 'audit_events_2000_01' };
    case 'audit_chain_heads':
      return { zone_id, seq: 1 + randomBytes(4).readUInt32BE(0), content_sha256: hex64(), published_at: new Date().toISOString(), sig: hex64() };
  }
}

/** Inserts `row` into caracal.`table` (names are from the fixed list above; values are parameters). */
export async function insertRow(client: pg.ClientBase, table: ZoneTable, row: Record<string, unknown>): Promise<pg.QueryResult> {
  const cols = Object.keys(row);
  const params = cols.map((_, i) => `$${i + 1}`);
  return client.query(`INSERT INTO caracal.${table} (${cols.join(', ')}) VALUES (${params.join(', ')})`, Object.values(row));
}

/** Creates a zone and one row in every zone-owned table (two resources and two agent sessions) as the admin. */
export async function seedZone(admin: pg.ClientBase, slug: string): Promise<ZoneFixture> {
  const zoneId = (await admin.query<{ id: string }>('INSERT INTO caracal.zones (slug, name) VALUES ($1, $1) RETURNING id', [slug])).rows[0]!.id;
  const z: ZoneFixture = {
    zoneId,
    applicationId: '',
    resourceId: '',
    spareResourceId: '',
    policySetId: '',
    authoritySessionId: '',
    agentSessionIds: ['', ''],
  };
  const idOf = async (table: ZoneTable) => {
    const id = randomUUID();
    await insertRow(admin, table, { id, ...rowFor(table, z) });
    return id;
  };
  z.applicationId = await idOf('applications');
  z.resourceId = await idOf('resources');
  z.spareResourceId = await idOf('resources');
  z.policySetId = await idOf('policy_sets');
  z.authoritySessionId = await idOf('authority_sessions');
  z.agentSessionIds = [await idOf('agent_sessions'), await idOf('agent_sessions')];
  await insertRow(admin, 'grants', { ...rowFor('grants', z), resource_id: z.resourceId });
  for (const table of ['policy_set_versions', 'delegation_edges', 'approvals', 'revocations', 'signing_keys', 'idempotency_keys', 'outbox', 'audit_events', 'audit_chain_anchors', 'audit_chain_heads'] as const) {
    await insertRow(admin, table, rowFor(table, z));
  }
  return z;
}
