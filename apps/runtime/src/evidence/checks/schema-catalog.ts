// The live catalog reads the schema checks share: the relations that can hold a zone's rows, their policies, and
// what each service role may do to every relation. Each read returns its rows with the exact SQL (raw/).
import type { Pool, PoolClient } from '@caracal/db';
import { readQuery } from './support.js';

/** A table, view or partition in a user schema, as pg_class describes it. */
export interface Relation {
  schema: string;
  table: string;
  /** pg_class.relkind: r table, p partitioned table, v view, m materialized view, f foreign table. */
  kind: string;
  rls_enabled: boolean;
  rls_forced: boolean;
  partition: boolean;
  /** `schema.table` of the parent, for a partition or an inheritance child. */
  parent: string | null;
  zone_column: boolean;
  comment: string | null;
}

export interface Policy {
  schema: string;
  table: string;
  policy: string;
  permissive: boolean;
  /** pg_policy.polcmd: `*` for ALL, r/a/w/d for SELECT/INSERT/UPDATE/DELETE. */
  cmd: string;
  roles: string[];
  using_expr: string | null;
  check_expr: string | null;
}

export interface Privilege {
  role: string;
  schema: string;
  table: string;
  privilege: string;
}

export const relationKey = (r: { schema: string; table: string }) => `${r.schema}.${r.table}`;

// Every user schema, not only `caracal`: a table created elsewhere can hold zone rows too. Schemas starting with
// `pg_` are reserved to the system (catalog, toast, temp), so none of them can be a user's.
export const USER_SCHEMA = `n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'`;

/**
 * Every relation that can hold a zone's rows: any table, view or partition in a user schema with a `zone_id`
 * column (every zone-owned table of the migrations carries one, R-DB-3: it is what the zone_isolation policy and
 * the zone-scoped foreign keys compare), plus any relation with RLS or a policy whatever its columns, so a table
 * whose zone column was renamed away is still read. Nothing outside this set can be filtered by zone at all.
 */
export const readRelations = (db: Pool | PoolClient) =>
  readQuery<Relation & Record<string, unknown>>(
    db,
    'relations.json',
    `WITH rel AS (
       SELECT c.oid, n.nspname AS schema, c.relname AS "table", c.relkind::text AS kind,
              c.relrowsecurity AS rls_enabled, c.relforcerowsecurity AS rls_forced, c.relispartition AS partition,
              (SELECT pn.nspname || '.' || p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                 JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid LIMIT 1) AS parent,
              EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'zone_id'
                       AND a.attnum > 0 AND NOT a.attisdropped) AS zone_column,
              obj_description(c.oid, 'pg_class') AS comment
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_SCHEMA})
     SELECT schema, "table", kind, rls_enabled, rls_forced, partition, parent, zone_column, comment FROM rel
      WHERE zone_column OR rls_enabled OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = rel.oid)
      ORDER BY schema, "table"`,
  );

/** Every row-level security policy in the database, its expressions printed schema-qualified (see withCatalogPath). */
export const readPolicies = (db: Pool | PoolClient) =>
  readQuery<Policy & Record<string, unknown>>(
    db,
    'policies.json',
    `SELECT n.nspname AS schema, c.relname AS "table", p.polname AS policy, p.polpermissive AS permissive,
            p.polcmd::text AS cmd,
            ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END FROM unnest(p.polroles) AS r ORDER BY 1) AS roles,
            pg_get_expr(p.polqual, p.polrelid) AS using_expr, pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
       FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      ORDER BY 1, 2, 3`,
  );

/**
 * What each given role may do to every relation in a user schema, as Postgres itself decides it: through
 * ownership, a grant to the role, to PUBLIC or to any role it is a member of (predefined roles such as
 * pg_write_all_data included). SELECT, INSERT and UPDATE count a grant on any single column as well.
 */
export const readPrivileges = (db: Pool | PoolClient, roles: readonly string[], name = 'privileges.json') =>
  readQuery<Privilege & Record<string, unknown>>(
    db,
    name,
    `SELECT r.rolname AS role, n.nspname AS schema, c.relname AS "table", v.privilege
       FROM pg_roles r
       CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS v(privilege)
      WHERE r.rolname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_SCHEMA}
        AND CASE WHEN v.privilege IN ('SELECT', 'INSERT', 'UPDATE') THEN has_any_column_privilege(r.oid, c.oid, v.privilege)
                 ELSE has_table_privilege(r.oid, c.oid, v.privilege) END
      ORDER BY 1, 2, 3, 4`,
    [roles],
  );
