// Zone isolation through foreign keys (R-DB-3): a zone-A row can neither point at a zone-B row nor learn that it exists.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_NAMES, withZone, type Pool, type ServiceName } from '../../src/index.js';
import { migratedDatabase, pgError, rolledBack, type MigratedDb } from './migrated-db.js';
import { insertRow, rowFor, seedZone, type ZoneFixture, type ZoneTable } from './zone-fixtures.js';

let db: MigratedDb;
let A: ZoneFixture;
let B: ZoneFixture;
const pools = new Map<ServiceName, Pool>();

beforeAll(async () => {
  db = await migratedDatabase('xref');
  const admin = new pg.Client({ connectionString: db.adminUrl });
  await admin.connect();
  try {
    A = await seedZone(admin, 'zone-a');
    B = await seedZone(admin, 'zone-b');
  } finally {
    await admin.end();
  }
  for (const s of SERVICE_NAMES) pools.set(s, db.poolAs(s));
});

afterAll(async () => {
  await db?.drop();
});

// Foreign-key checks bypass RLS, so only a key that includes zone_id keeps a reference inside its zone.
const CASES: Array<{ service: ServiceName; table: ZoneTable; column: string; foreign: (z: ZoneFixture) => string }> = [
  { service: 'api', table: 'grants', column: 'application_id', foreign: (z) => z.applicationId },
  { service: 'api', table: 'grants', column: 'resource_id', foreign: (z) => z.spareResourceId },
  { service: 'api', table: 'policy_set_versions', column: 'policy_set_id', foreign: (z) => z.policySetId },
  { service: 'sts', table: 'authority_sessions', column: 'application_id', foreign: (z) => z.applicationId },
  { service: 'sts', table: 'approvals', column: 'application_id', foreign: (z) => z.applicationId },
  { service: 'sts', table: 'approvals', column: 'resource_id', foreign: (z) => z.resourceId },
  { service: 'coordinator', table: 'agent_sessions', column: 'application_id', foreign: (z) => z.applicationId },
  { service: 'coordinator', table: 'agent_sessions', column: 'authority_session_id', foreign: (z) => z.authoritySessionId },
  { service: 'coordinator', table: 'agent_sessions', column: 'parent_id', foreign: (z) => z.agentSessionIds[0] },
  { service: 'coordinator', table: 'delegation_edges', column: 'source_session_id', foreign: (z) => z.agentSessionIds[0] },
  { service: 'coordinator', table: 'delegation_edges', column: 'target_session_id', foreign: (z) => z.agentSessionIds[1] },
];

describe.each(CASES)('$service → $table ($column)', ({ service, table, column, foreign }) => {
  const attempt = (value: string) => () =>
    withZone(pools.get(service)!, A.zoneId, (c) => insertRow(c, table, { ...rowFor(table, A), [column]: value }));

  it('accepts a reference inside the bound zone (control)', async () => {
    const r = await rolledBack(pools.get(service)!, A.zoneId, (c) => insertRow(c, table, { ...rowFor(table, A), [column]: foreign(A) }));
    expect(r.rowCount).toBe(1);
  });

  it("refuses a reference to zone B's row", async () => {
    const err = await pgError(attempt(foreign(B)));
    expect(err.code).toBe('23503');
  });

  it("answers a zone-B id exactly like an id that does not exist, so B's rows cannot be probed", async () => {
    const real = await pgError(attempt(foreign(B)));
    const missing = await pgError(attempt(randomUUID()));
    const shape = (m: string) => m.replace(/"[^"]*_fkey"/, '"<fk>"');
    expect([real.code, shape(real.message)]).toEqual([missing.code, shape(missing.message)]);
    expect(real.code).toBe('23503');
  });
});

it('a zone-B resource stays deletable by zone B whatever zone A tried to reference', async () => {
  // Before zone-scoped keys, a zone-A grant on B's resource blocked B from ever deleting it.
  await pgError(() =>
    withZone(pools.get('api')!, A.zoneId, (c) => insertRow(c, 'grants', { ...rowFor('grants', A), resource_id: B.spareResourceId })),
  );
  const r = await withZone(pools.get('api')!, B.zoneId, (c) => c.query('DELETE FROM caracal.resources WHERE id = $1', [B.spareResourceId]));
  expect(r.rowCount).toBe(1);
});
