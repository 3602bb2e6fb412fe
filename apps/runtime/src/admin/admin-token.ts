// Where the CLI's admin token comes from: CARACAL_ADMIN_TOKEN_FILE, else the home's secret. Never from argv.
import { readSecretFile } from '@caracal/config';
import { CliError } from '../errors.js';
import { readSecret } from '../home/secret-files.js';
import type { StackContext } from '../stack/context.js';

/** The API accepts exactly this shape (R-API-1); checking it here fails fast without sending anything. */
const TOKEN_SHAPE = /^[0-9a-f]{64}$/;

export const TOKEN_FILE_ENV = 'CARACAL_ADMIN_TOKEN_FILE';

/** Reads the admin token; errors name the file, never its content. */
export function adminToken(ctx: StackContext): string {
  const override = ctx.env[TOKEN_FILE_ENV];
  if (override !== undefined) {
    if (override.trim() === '') throw new CliError(`${TOKEN_FILE_ENV} is set but empty`, 1, 'point it at a file holding an admin token, or unset it to use the home secret');
    const res = readSecretFile(override);
    if (!res.ok) throw new CliError(`admin token file ${res.problem}`, 1, `check ${TOKEN_FILE_ENV}`);
    if (!TOKEN_SHAPE.test(res.value)) throw new CliError(`admin token file ${override} does not hold an admin token (expected 64 lowercase hex characters)`);
    return res.value;
  }
  const token = readSecret(ctx.home.secretsDir, 'caracalAdminToken');
  if (!TOKEN_SHAPE.test(token)) throw new CliError(`secret ${ctx.home.secretsDir}/caracalAdminToken does not hold an admin token (expected 64 lowercase hex characters)`);
  return token;
}
