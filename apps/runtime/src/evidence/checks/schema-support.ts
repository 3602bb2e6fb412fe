// What the schema and isolation checks share: the installation's service roles, where its migrations are, and a
// transaction that is always rolled back (the pack writes nothing, R-EVD-1).
import { loadMigrations, quoteIdent, roleName, SERVICE_NAMES, type MigrationFile, type Pool, type PoolClient, type ServiceName } from '@caracal/db';
import type { CheckOutcome, EvidenceContext } from '../check.js';
import { migrationsDir } from '../../version.js';
import { fail } from './support.js';

export interface ServiceRole {
  service: ServiceName;
  role: string;
}

/**
 * Every service role of this installation: the same names `caracal migrate` creates and grants to (the prefix in
 * caracal.env is the one `init` derived with `rolePrefixFor` for an external database, `caracal` otherwise).
 */
export const serviceRoles = (ctx: Pick<EvidenceContext, 'settings'>): ServiceRole[] =>
  SERVICE_NAMES.map((service) => ({ service, role: roleName(ctx.settings.CARACAL_DB_ROLE_PREFIX, service) }));

/**
 * The migration files of the install root, found the way `caracal migrate` finds them, or the FAIL saying why
 * there are none to check: an install root without its migrations cannot be vouched for.
 */
export function installedMigrations(ctx: Pick<EvidenceContext, 'root'>): { dir: string; files: MigrationFile[] } | { failed: CheckOutcome } {
  const dir = migrationsDir(ctx.root);
  try {
    const files = loadMigrations(dir);
    return files.length > 0 ? { dir, files } : { failed: fail(`${dir} holds no migration file`) };
  } catch (e) {
    return { failed: fail(`the migration files cannot be read: ${(e as Error).message}`) };
  }
}

/** `schema.table`, each part quoted: names come from the catalog and cannot be bound as query parameters. */
export const qualified = (schema: string, table: string) => `${quoteIdent(schema)}.${quoteIdent(table)}`;

/**
 * Runs `body` in a transaction that is rolled back whatever happens, so a probe may `SET LOCAL ROLE` and bind a
 * zone without leaving anything behind; the pool's sessions are read-only as well.
 */
export async function rolledBack<T>(db: Pool, body: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    return await body(client);
  } finally {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    client.release(broken);
  }
}

/**
 * The catalog read with `search_path` set to pg_catalog only, so `pg_get_expr` and `regrole` print every name
 * schema-qualified whatever the owner's own search path holds (`"$user"` resolves to `caracal` for the owner).
 */
export const withCatalogPath = <T>(db: Pool, body: (client: PoolClient) => Promise<T>) =>
  rolledBack(db, async (client) => {
    await client.query('SET LOCAL search_path TO pg_catalog');
    return body(client);
  });
