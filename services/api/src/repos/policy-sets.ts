// Zone policy sets (R-POL-3): a named set per zone, immutable numbered versions (Rego source, wasm bundle, its
// SHA-256, the self-test outcome), and the one version of each set that is active. Bundle bytes are only written
// here, never read back out through the api.
import type { PoolClient } from '@caracal/db';

export interface PolicySetRow {
  id: string;
  zone_id: string;
  name: string;
  active_version: number | null;
  created_at: Date;
  activated_at: Date | null;
}

export interface PolicyVersionRow {
  id: string;
  zone_id: string;
  policy_set_id: string;
  version: number;
  bundle_sha256: string;
  bundle_bytes: number;
  entrypoint: string;
  self_test_status: 'passed' | 'failed' | null;
  self_test_error: string | null;
  created_at: Date;
  created_by: string;
}

export interface NewVersion {
  regoSource: string;
  bundle: Buffer;
  sha256: string;
  entrypoint: string;
  selfTest: { status: 'passed' | 'failed'; error: string | null };
  createdBy: string;
}

const SET_COLS = 'id, zone_id, name, active_version, created_at, activated_at';
const VERSION_COLS =
  'id, zone_id, policy_set_id, version, bundle_sha256, octet_length(wasm_bundle) AS bundle_bytes, entrypoint, self_test_status, self_test_error, created_at, created_by';

export async function insertPolicySet(c: PoolClient, zoneId: string, name: string): Promise<PolicySetRow> {
  return (await c.query<PolicySetRow>(`INSERT INTO policy_sets (zone_id, name) VALUES ($1, $2) RETURNING ${SET_COLS}`, [zoneId, name])).rows[0]!;
}

export async function listPolicySets(c: PoolClient): Promise<PolicySetRow[]> {
  return (await c.query<PolicySetRow>(`SELECT ${SET_COLS} FROM policy_sets ORDER BY name`)).rows;
}

/** By id or name; `lock` holds the row until the transaction ends (version numbering, activation). */
export async function findPolicySet(c: PoolClient, ref: string, lock = false): Promise<PolicySetRow | undefined> {
  const byId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(ref);
  const res = await c.query<PolicySetRow>(`SELECT ${SET_COLS} FROM policy_sets WHERE ${byId ? 'id' : 'name'} = $1${lock ? ' FOR UPDATE' : ''}`, [ref]);
  return res.rows[0];
}

/** Writes version n+1 of a set whose row the caller holds locked. */
export async function insertPolicyVersion(c: PoolClient, set: PolicySetRow, v: NewVersion): Promise<PolicyVersionRow> {
  const res = await c.query<PolicyVersionRow>(
    `INSERT INTO policy_set_versions (zone_id, policy_set_id, version, rego_source, wasm_bundle, bundle_sha256, entrypoint, created_by, self_test_status, self_test_error)
     SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6, $7, $8, $9 FROM policy_set_versions WHERE policy_set_id = $2
     RETURNING ${VERSION_COLS}`,
    [set.zone_id, set.id, v.regoSource, v.bundle, v.sha256, v.entrypoint, v.createdBy, v.selfTest.status, v.selfTest.error],
  );
  return res.rows[0]!;
}

export async function listPolicyVersions(c: PoolClient, setId: string): Promise<PolicyVersionRow[]> {
  return (await c.query<PolicyVersionRow>(`SELECT ${VERSION_COLS} FROM policy_set_versions WHERE policy_set_id = $1 ORDER BY version DESC`, [setId])).rows;
}

/** One version with its Rego source (the bundle stays in the database). */
export async function findPolicyVersion(c: PoolClient, setId: string, version: number): Promise<(PolicyVersionRow & { rego_source: string }) | undefined> {
  const res = await c.query<PolicyVersionRow & { rego_source: string }>(
    `SELECT ${VERSION_COLS}, rego_source FROM policy_set_versions WHERE policy_set_id = $1 AND version = $2`,
    [setId, version],
  );
  return res.rows[0];
}

/** Makes `version` the set's active one, or none when null. */
export async function setActiveVersion(c: PoolClient, setId: string, version: number | null): Promise<PolicySetRow> {
  const res = await c.query<PolicySetRow>(
    `UPDATE policy_sets SET active_version = $2, activated_at = CASE WHEN $2::integer IS NULL THEN NULL ELSE now() END WHERE id = $1 RETURNING ${SET_COLS}`,
    [setId, version],
  );
  return res.rows[0]!;
}

/** A version with its bundle bytes, as a dry run evaluates it (never sent back to a caller). */
export interface EvaluableVersion {
  name: string;
  version: number;
  bundle: Buffer;
  sha256: string;
  entrypoint: string;
}

const EVALUABLE = `SELECT s.name, v.version, v.wasm_bundle AS bundle, v.bundle_sha256 AS sha256, v.entrypoint
  FROM policy_sets s JOIN policy_set_versions v ON v.policy_set_id = s.id`;

/** The zone's active version of each set, in name order: what the STS evaluates after the contract. */
export async function activeVersions(c: PoolClient): Promise<EvaluableVersion[]> {
  return (await c.query<EvaluableVersion>(`${EVALUABLE} WHERE v.version = s.active_version ORDER BY s.name`)).rows;
}

/** One version of a set named `name`, active or not. */
export async function evaluableVersion(c: PoolClient, name: string, version: number): Promise<EvaluableVersion | undefined> {
  return (await c.query<EvaluableVersion>(`${EVALUABLE} WHERE s.name = $1 AND v.version = $2`, [name, version])).rows[0];
}
