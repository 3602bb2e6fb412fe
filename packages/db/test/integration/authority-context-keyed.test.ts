// caracal.authority_context_keyed (migrations 0021 and 0025), as the STS role: a call without a graph answers the
// same row as a call with one, and touches none of the graph's tables; a call with a graph still reads them.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/index.js';
import { adminQuery } from '../../../../test-support/db.js';
import { migratedDatabase, type MigratedDb } from './migrated-db.js';
import { seedZone, type ZoneFixture } from './zone-fixtures.js';

let db: MigratedDb;
let sts: Pool;
let z: ZoneFixture;
let clientId: string;
let resource: string;

const GRAPH_TABLES = ['agent_sessions', 'delegation_edges'];
const CONTEXT_TABLES = ['authority_sessions', 'applications', 'revocations', 'resources', 'grants'];

beforeAll(async () => {
  db = await migratedDatabase('ctxkeyed');
  const admin = new pg.Client({ connectionString: db.adminUrl });
  await admin.connect();
  try {
    z = await seedZone(admin, 'ctx');
    clientId = (await admin.query<{ client_id: string }>('SELECT client_id FROM caracal.applications WHERE id = $1', [z.applicationId])).rows[0]!.client_id;
    resource = (await admin.query<{ identifier: string }>('SELECT identifier FROM caracal.resources WHERE id = $1', [z.resourceId])).rows[0]!.identifier;
  } finally {
    await admin.end();
  }
  sts = db.poolAs('sts');
});

afterAll(async () => {
  await sts?.end();
  await db?.drop();
});

const CALL = 'SELECT * FROM caracal.authority_context_keyed($1, $2, $3, $4, $5, $6, $7)';

async function context(sid: string, sessions: string[], edges: string[] = []) {
  return (await sts.query(CALL, [z.zoneId, sid, clientId, [sid], resource, sessions, edges])).rows[0] as Record<string, unknown>;
}

/** The tables (not indexes) a call locked in its transaction: what its statement opened. */
async function tablesLocked(sessions: string[]): Promise<string[]> {
  const c = await sts.connect();
  try {
    await c.query('BEGIN');
    await c.query(CALL, [z.zoneId, z.authoritySessionId, clientId, [z.authoritySessionId], resource, sessions, []]);
    const { rows } = await c.query<{ relname: string }>(
      `SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE l.pid = pg_backend_pid() AND c.relkind IN ('r', 'p') AND c.relnamespace = 'caracal'::regnamespace`,
    );
    return rows.map((r) => r.relname).sort();
  } finally {
    await c.query('ROLLBACK');
    c.release();
  }
}

describe('authority_context_keyed', () => {
  it('answers the same row with and without a graph; only the graph column differs', async () => {
    const plain = await context(z.authoritySessionId, []);
    const graphed = await context(z.authoritySessionId, [z.agentSessionIds[0]!]);
    expect(plain).toMatchObject({ session_found: true, lineage_revoked: false, application_id: z.applicationId, client_matches: true, resource_id: z.resourceId, scopes: ['read'] });
    expect(plain.graph).toEqual([]);
    expect((graphed.graph as unknown[]).length).toBeGreaterThan(0);
    expect({ ...plain, graph: null }).toEqual({ ...graphed, graph: null });
  });

  it('reads revocations and a missing session the same way without a graph', async () => {
    const missing = randomUUID();
    expect(await context(missing, [])).toMatchObject({ session_found: false, application_id: null });
    await adminQuery(db.adminUrl, "INSERT INTO caracal.revocations (zone_id, target_type, target_id, revoked_by) VALUES ($1, 'authority_session', $2, 'test')", [z.zoneId, z.authoritySessionId]);
    expect(await context(z.authoritySessionId, [])).toMatchObject({ session_found: true, lineage_revoked: true });
    expect(await context(z.authoritySessionId, [z.agentSessionIds[0]!])).toMatchObject({ session_found: true, lineage_revoked: true });
  });

  it('without a graph opens none of the graph tables (migration 0025); with one it reads them', async () => {
    const plain = await tablesLocked([]);
    expect(plain).toEqual(expect.arrayContaining(CONTEXT_TABLES));
    for (const t of GRAPH_TABLES) expect(plain).not.toContain(t);
    expect(await tablesLocked([z.agentSessionIds[0]!])).toEqual(expect.arrayContaining([...CONTEXT_TABLES, ...GRAPH_TABLES]));
  });
});
