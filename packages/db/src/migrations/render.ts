// Renders installation-specific names into migration SQL: role names differ per installation (R-DB-2).
import { roleName, SERVICE_NAMES } from '../roles.js';

export interface RenderContext {
  rolePrefix: string;
  database: string;
}

// Anything between double braces is a token; an unknown or misspelt one fails instead of reaching Postgres.
const TOKEN = /\{\{\s*([^.}\s]+)(?:\.([^}\s]+))?\s*\}\}/g;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function renderMigration(sql: string, ctx: RenderContext): string {
  return sql.replace(TOKEN, (whole, kind: string, arg: string | undefined) => {
    if (kind === 'role' && arg && (SERVICE_NAMES as readonly string[]).includes(arg)) {
      return quoteIdent(roleName(ctx.rolePrefix, arg as (typeof SERVICE_NAMES)[number]));
    }
    if (kind === 'database' && !arg) return quoteIdent(ctx.database);
    throw new Error(`unknown template token ${whole}`);
  });
}
