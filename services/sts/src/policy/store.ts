// The STS's reads of zone policy sets (R-POL-3): the active version of each set of a zone, and the bundle bytes of
// the versions it does not hold yet. Read under the zone's row-level security, like every other zone read.
import { withZone, type Pool } from '@caracal/db';

export interface ActiveSet {
  name: string;
  version: number;
  sha256: string;
  entrypoint: string;
}

/** What a set's head looks like to the periodic check: name, version and bundle digest, in name order. */
export const fingerprint = (sets: readonly ActiveSet[]) => sets.map((s) => `${s.name}@${s.version}:${s.sha256}`).join('\n');

export class PolicyStore {
  constructor(private readonly pool: Pool) {}

  /** The zone's active sets (a set with no active version is not evaluated), in name order. */
  active(zoneId: string): Promise<ActiveSet[]> {
    return withZone(this.pool, zoneId, async (c) =>
      (
        await c.query<ActiveSet>(
          `SELECT s.name, v.version, v.bundle_sha256 AS sha256, v.entrypoint
             FROM policy_sets s JOIN policy_set_versions v ON v.policy_set_id = s.id AND v.version = s.active_version
            WHERE s.active_version IS NOT NULL
            ORDER BY s.name`,
        )
      ).rows,
    );
  }

  /** The bundle bytes of the given digests (of the zone's versions). */
  bundles(zoneId: string, digests: readonly string[]): Promise<Map<string, Buffer>> {
    return withZone(this.pool, zoneId, async (c) => {
      const rows = (await c.query<{ sha256: string; bundle: Buffer }>('SELECT DISTINCT ON (bundle_sha256) bundle_sha256 AS sha256, wasm_bundle AS bundle FROM policy_set_versions WHERE bundle_sha256 = ANY ($1::text[])', [digests])).rows;
      return new Map(rows.map((r) => [r.sha256, r.bundle]));
    });
  }

  /** An application's labels (R-POL-1 `principal.labels`); read only when the zone has active sets. */
  labels(zoneId: string, applicationId: string): Promise<string[]> {
    // One round trip (migration 0018): the function binds the zone for its statement.
    return this.pool
      .query<{ labels: string[] }>({ name: 'caracal_application_labels', text: 'SELECT caracal.application_labels($1, $2) AS labels', values: [zoneId, applicationId] })
      .then((r) => r.rows[0]?.labels ?? []);
  }
}
