// schema-roles (R-EVD-1, R-DB-2): every service role exists and holds no attribute that passes row-level security
// (SUPERUSER, BYPASSRLS), reads around it (REPLICATION) or can mint a role that does (CREATEROLE), not even
// through a role it is a member of.
import type { CheckDefinition } from '../check.js';
import { serviceRoles, type ServiceRole } from './schema-support.js';
import { readQuery, verdict, withDb } from './support.js';

export interface RoleRow {
  role: string;
  superuser: boolean;
  bypassrls: boolean;
  replication: boolean;
  createrole: boolean;
  createdb: boolean;
  login: boolean;
  inherit: boolean;
  connlimit: number;
  valid_until: Date | null;
  member_of: string[];
  /** Roles it is a member of (directly or not) that hold one of the refused attributes: SET ROLE reaches them. */
  escalates_to: string[];
}

/**
 * The attributes `caracal migrate` denies every service role (it creates them NOSUPERUSER NOBYPASSRLS NOCREATEROLE
 * NOREPLICATION and re-asserts that with each password), with why each one matters. CREATEDB, LOGIN and the rest
 * are recorded in raw/ only: none of them reaches another zone's rows.
 */
const REFUSED = {
  superuser: 'SUPERUSER (passes every check, RLS included)',
  bypassrls: 'BYPASSRLS (reads and writes past every zone_isolation policy)',
  replication: 'REPLICATION (streams the whole database, past RLS)',
  createrole: 'CREATEROLE (can create or alter roles, and join the schema owner)',
} as const;

export function roleProblems(roles: readonly ServiceRole[], rows: readonly RoleRow[]): string[] {
  const problems: string[] = [];
  for (const { service, role } of roles) {
    const row = rows.find((r) => r.role === role);
    if (!row) {
      problems.push(`${role} (${service}): the role does not exist`);
      continue;
    }
    for (const [attr, why] of Object.entries(REFUSED)) if (row[attr as keyof typeof REFUSED]) problems.push(`${role} (${service}): has ${why}`);
    if (row.escalates_to.length > 0) problems.push(`${role} (${service}): is a member of ${row.escalates_to.join(', ')}, so SET ROLE gives it that attribute`);
  }
  return problems;
}

// A role it belongs to, named with the refused attributes it holds: `caracal (SUPERUSER BYPASSRLS)`.
const ESCALATION = `b.rolname || ' (' || concat_ws(' ', CASE WHEN b.rolsuper THEN 'SUPERUSER' END, CASE WHEN b.rolbypassrls THEN 'BYPASSRLS' END,
  CASE WHEN b.rolreplication THEN 'REPLICATION' END, CASE WHEN b.rolcreaterole THEN 'CREATEROLE' END) || ')'`;

export const schemaRoles: CheckDefinition = {
  id: 'schema-roles',
  pillar: 'Schema',
  title: 'Service roles cannot bypass row-level security',
  what:
    'Every service database role exists and is NOSUPERUSER NOBYPASSRLS (and NOREPLICATION NOCREATEROLE), directly and through every role it is a member of, so zone isolation binds each service. LOGIN and the other attributes are recorded.',
  controls: ['R7', 'R3', 'ASI03', 'SOC2-CC6.3'],
  command: 'SELECT … FROM pg_roles, pg_has_role(…, MEMBER) for every service role',
  run: (ctx) =>
    withDb(ctx, async (db) => {
      const roles = serviceRoles(ctx);
      const read = await readQuery<RoleRow & Record<string, unknown>>(
        db,
        'roles.json',
        `SELECT r.rolname AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls, r.rolreplication AS replication,
                r.rolcreaterole AS createrole, r.rolcreatedb AS createdb, r.rolcanlogin AS login, r.rolinherit AS inherit,
                r.rolconnlimit AS connlimit, r.rolvaliduntil AS valid_until,
                ARRAY(SELECT b.rolname::text FROM pg_roles b WHERE b.oid <> r.oid AND pg_has_role(r.oid, b.oid, 'MEMBER') ORDER BY 1) AS member_of,
                ARRAY(SELECT ${ESCALATION} FROM pg_roles b WHERE b.oid <> r.oid AND pg_has_role(r.oid, b.oid, 'MEMBER')
                       AND (b.rolsuper OR b.rolbypassrls OR b.rolreplication OR b.rolcreaterole) ORDER BY 1) AS escalates_to
           FROM pg_roles r WHERE r.rolname = ANY($1::text[]) ORDER BY 1`,
        [roles.map((r) => r.role)],
      );
      const expected = { name: 'service-roles.json', command: 'roleName(CARACAL_DB_ROLE_PREFIX, service) for each service', output: roles };
      return verdict(
        roleProblems(roles, read.rows),
        `${roles.length} service roles (${roles.map((r) => r.role).join(', ')}) exist, NOSUPERUSER NOBYPASSRLS NOREPLICATION NOCREATEROLE, and are members of no role that holds any of these`,
        [expected, read.raw],
      );
    }),
};
