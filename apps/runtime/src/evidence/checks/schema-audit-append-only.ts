// schema-audit-append-only (R-EVD-1, R-AUD-2, R-DB-2): the audit ledger is append-only by the database's rule: the
// audit role (and every other service role) holds no UPDATE, DELETE or TRUNCATE on any audit table.
import type { CheckDefinition } from '../check.js';
import { readPrivileges, relationKey, USER_SCHEMA, type Privilege } from './schema-catalog.js';
import { serviceRoles, type ServiceRole } from './schema-support.js';
import { readQuery, verdict, withDb } from './support.js';

export const REWRITES = ['UPDATE', 'DELETE', 'TRUNCATE'] as const;

export interface AuditTable {
  schema: string;
  table: string;
  kind: string;
  partition_of: string | null;
}

/** Each rewrite privilege a service role holds on an audit table, the audit role's first. */
export function appendOnlyProblems(roles: readonly ServiceRole[], tables: readonly AuditTable[], privileges: readonly Privilege[]): string[] {
  const audit = new Set(tables.map(relationKey));
  const order = (p: Privilege) => (p.role === roles.find((r) => r.service === 'audit')?.role ? 0 : 1);
  return privileges
    .filter((p) => audit.has(relationKey(p)) && (REWRITES as readonly string[]).includes(p.privilege))
    .sort((a, b) => order(a) - order(b))
    .map((p) => `${p.role} (${roles.find((r) => r.role === p.role)?.service ?? 'service'}) holds ${p.privilege} on ${relationKey(p)}`);
}

export const schemaAuditAppendOnly: CheckDefinition = {
  id: 'schema-audit-append-only',
  pillar: 'Schema',
  title: 'Audit tables are append-only for the services',
  what:
    'No service role, the audit role first, holds UPDATE, DELETE or TRUNCATE on any audit table or partition, whether granted to it, to PUBLIC, to a role it belongs to or on a single column: a service can add audit rows but never rewrite or remove one.',
  controls: ['R6', 'SOC2-CC7.2', 'SOC2-PI1', 'EU-AIA-12'],
  command: 'has_table_privilege / has_any_column_privilege(service role, audit table, UPDATE|DELETE|TRUNCATE)',
  run: (ctx) =>
    withDb(ctx, async (db) => {
      const roles = serviceRoles(ctx);
      // The migrations name every audit table `audit_*` or `admin_audit_*` (the ledger and its monthly partitions,
      // the chain anchors and heads, the retention floor, the admin log); a partition counts whatever its name.
      const tables = await readQuery<AuditTable & Record<string, unknown>>(
        db,
        'audit-tables.json',
        `SELECT n.nspname AS schema, c.relname AS "table", c.relkind::text AS kind, pn.nspname || '.' || p.relname AS partition_of
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
           LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_SCHEMA}
            AND (c.relname ~ '^(admin_)?audit_' OR p.relname ~ '^(admin_)?audit_')
          ORDER BY 1, 2`,
      );
      const privileges = await readPrivileges(db, roles.map((r) => r.role));
      const problems = tables.rows.length === 0 ? ['no audit table found in the catalog: the schema is not migrated'] : appendOnlyProblems(roles, tables.rows, privileges.rows);
      return verdict(
        problems,
        `no service role holds ${REWRITES.join(', ')} on any of ${tables.rows.length} audit tables and partitions (${roles.map((r) => r.role).join(', ')})`,
        [tables.raw, privileges.raw],
      );
    }),
};
