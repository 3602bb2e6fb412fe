// A fresh test database migrated with the real migrations, a known password per service role, and pools per role.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../../../test-support/db.js';
import {
  createPool,
  loadMigrations,
  roleName,
  runMigrations,
  SERVICE_NAMES,
  withZone,
  type Pool,
  type PoolClient,
  type ServiceName,
} from '../../src/index.js';

export const MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', '..', '..', 'infra', 'postgres', 'migrations');

export type Passwords = Record<ServiceName, string>;

export function newPasswords(): Passwords {
  return Object.fromEntries(SERVICE_NAMES.map((s) => [s, randomBytes(18).toString('base64url')])) as Passwords;
}

export interface MigratedDb extends TestDatabase {
  passwords: Passwords;
  role: (service: ServiceName) => string;
  /** A pool logged in as the service's own role; `max: 1` so consecutive transactions share one connection. */
  poolAs: (service: ServiceName, max?: number) => Pool;
}

export async function migratedDatabase(label: string): Promise<MigratedDb> {
  const db = await createTestDatabase(label);
  const passwords = newPasswords();
  const pools: Pool[] = [];
  try {
    await runMigrations({ adminUrl: db.adminUrl, files: loadMigrations(MIGRATIONS_DIR), rolePrefix: db.rolePrefix, rolePasswords: passwords });
  } catch (err) {
    await db.drop();
    throw err;
  }
  const role = (service: ServiceName) => roleName(db.rolePrefix, service);
  return {
    ...db,
    passwords,
    role,
    poolAs: (service, max = 1) => {
      const pool = createPool({ connectionString: db.urlAs(role(service), passwords[service]), applicationName: `test-${service}`, max });
      pools.push(pool);
      return pool;
    },
    drop: async () => {
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      await db.drop();
    },
  };
}

/** Runs `fn` and returns the Postgres error it raised; fails the test if it did not raise one. */
export async function pgError(fn: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string') return { code: e.code, message: String(e.message) };
    throw err;
  }
  throw new Error('expected the database to raise an error, but the statement succeeded');
}

const ROLLBACK = new Error('rolled back on purpose');

/** Runs `fn` bound to `zoneId` and rolls the transaction back, so positive controls leave no rows behind. */
export async function rolledBack<T>(pool: Pool, zoneId: string, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  let out: T | undefined;
  await withZone(pool, zoneId, async (c) => {
    out = await fn(c);
    throw ROLLBACK;
  }).catch((err: unknown) => {
    if (err !== ROLLBACK) throw err;
  });
  return out as T;
}
