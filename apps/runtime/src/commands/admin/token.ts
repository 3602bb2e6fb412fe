// `caracal token create|list|revoke` and `caracal whoami`: admin tokens, stored hashed and shown once (R-API-1).
import { Option, type Command } from 'commander';
import { adminApi, apiPath } from '../../admin/client.js';
import { group, leaf, type JsonOpt } from '../../admin/define.js';
import { capabilities, intIn, matching, uuid, zoneRef } from '../../admin/flags.js';
import { col, printList, printRecord, type Field } from '../../admin/render.js';
import { UsageError } from '../../errors.js';
import type { Io } from '../io.js';

export interface AdminToken {
  id: string;
  name: string;
  scope: 'global' | 'zone';
  zone_id: string | null;
  capabilities: string[];
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  token?: string;
}

export interface Whoami {
  id: string;
  name: string;
  scope: 'global' | 'zone';
  zone_id: string | null;
  capabilities: string[];
}

export interface TokenCreateOptions extends JsonOpt {
  name: string;
  scope: 'global' | 'zone';
  zone?: string;
  capabilities: string[];
  expiresIn?: number;
}

const TOKEN_FIELDS: ReadonlyArray<Field<AdminToken>> = [
  col('id'),
  col('name'),
  col('scope'),
  col('zone_id'),
  col('capabilities'),
  col('created_at'),
  col('expires_at'),
  col('revoked_at'),
];
const WITH_TOKEN: ReadonlyArray<Field<AdminToken>> = [col('id'), col('name'), col('scope'), col('zone_id'), col('capabilities'), col('expires_at'), col('token')];
const LIST_FIELDS: ReadonlyArray<Field<AdminToken>> = [col('id'), col('name'), col('scope'), col('zone_id'), col('capabilities'), col('expires_at'), col('revoked_at')];
const WHOAMI_FIELDS: ReadonlyArray<Field<Whoami>> = [col('id'), col('name'), col('scope'), col('zone_id'), col('capabilities')];

export function runTokenCreate(opts: TokenCreateOptions, io: Io): Promise<AdminToken> {
  // The API refuses the mismatch too; checking here makes it a usage error that names the flags.
  if (opts.scope === 'zone' && opts.zone === undefined) throw new UsageError('--scope zone needs --zone <zone>');
  if (opts.scope === 'global' && opts.zone !== undefined) throw new UsageError('--zone is only allowed with --scope zone');
  return adminApi(io).call<AdminToken>('POST', '/v1/admin-tokens', {
    name: opts.name,
    scope: opts.scope,
    ...(opts.zone !== undefined ? { zone: opts.zone } : {}),
    capabilities: opts.capabilities,
    ...(opts.expiresIn !== undefined ? { expires_in_seconds: opts.expiresIn } : {}),
  });
}
export const runTokenList = (io: Io) => adminApi(io).call<{ items: AdminToken[] }>('GET', '/v1/admin-tokens');
export const runTokenRevoke = (id: string, io: Io) => adminApi(io).call<AdminToken>('DELETE', apiPath`/v1/admin-tokens/${id}`);
export const runWhoami = (io: Io) => adminApi(io).call<Whoami>('GET', '/v1/whoami');

export function registerTokenCommands(program: Command, io: Io): void {
  const token = group(program, 'token', 'admin tokens: create, list, revoke');
  leaf(token, 'create', 'create an admin token; prints it once (only its SHA-256 is stored)')
    .requiredOption('--name <name>', '1-64 characters from A-Z a-z 0-9 . _ -', matching('--name', /^[A-Za-z0-9._-]{1,64}$/, '1-64 characters from A-Z a-z 0-9 . _ -'))
    .addOption(new Option('--scope <scope>', 'global, or confined to one zone').choices(['global', 'zone']).makeOptionMandatory())
    .option('--zone <zone>', 'the zone, for --scope zone', zoneRef)
    .requiredOption('--capabilities <list>', 'comma-separated: read, write, approve', capabilities)
    .option('--expires-in <seconds>', 'lifetime, 60-31536000 seconds (default: no expiry)', intIn('--expires-in', 60, 31_536_000))
    .action(async (opts: TokenCreateOptions) => {
      printRecord(io, opts.json, await runTokenCreate(opts, io), WITH_TOKEN);
      io.out.info('the admin token is shown only once: store it now (e.g. in a file for CARACAL_ADMIN_TOKEN_FILE)');
    });
  leaf(token, 'list', 'list admin tokens (never the tokens themselves)').action(async (opts: JsonOpt) => printList(io, opts.json, await runTokenList(io), LIST_FIELDS));
  leaf(token, 'revoke', 'revoke an admin token')
    .argument('<id>', 'token id (UUID)', uuid('<id>'))
    .action(async (id: string, opts: JsonOpt) => printRecord(io, opts.json, await runTokenRevoke(id, io), TOKEN_FIELDS));
  leaf(program, 'whoami', 'show the admin token in use: name, scope, capabilities').action(async (opts: JsonOpt) =>
    printRecord(io, opts.json, await runWhoami(io), WHOAMI_FIELDS),
  );
}
