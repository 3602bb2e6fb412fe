// The per-service database roles and their naming (R-DB-2): one role per service, prefixed per installation.

export const SERVICE_NAMES = ['api', 'coordinator', 'sts', 'gateway', 'audit'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

const PREFIX = /^[a-z][a-z0-9_]{0,40}$/;

export function assertRolePrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) throw new TypeError('role prefix must match ^[a-z][a-z0-9_]{0,40}$');
  return prefix;
}

export function roleName(prefix: string, service: ServiceName): string {
  return `${assertRolePrefix(prefix)}_${service}`;
}

/** Derives a role prefix from a database name, so two installations on one cluster never share roles. */
export function rolePrefixFor(database: string): string {
  const cleaned = database.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '');
  return (cleaned || 'caracal').slice(0, 40);
}
