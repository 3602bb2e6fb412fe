// `caracal grant create|list|delete`: which application may ask for which scopes of which resource (R-API-1).
import type { Command } from 'commander';
import { adminApi, apiPath } from '../../admin/client.js';
import { group, zoned, type ZoneOpt } from '../../admin/define.js';
import { appRef, csv, intIn, resourceRef, SCOPE, scopes, uuid } from '../../admin/flags.js';
import { col, printList, printRecord, type Field } from '../../admin/render.js';
import type { Io } from '../io.js';

export interface Grant {
  id: string;
  zone_id: string;
  application_id: string;
  resource_id: string;
  resource: string;
  client_id: string;
  roles: string[];
  scopes: string[];
  approval_scopes: string[];
  max_ttl_seconds: number;
  created_at: string;
}

export interface GrantCreateOptions extends ZoneOpt {
  app: string;
  resource: string;
  scopes: string[];
  roles?: string[];
  approvalScopes?: string[];
  maxTtl?: number;
}

const GRANT_FIELDS: ReadonlyArray<Field<Grant>> = [
  col('id'),
  col('client_id'),
  col('resource'),
  col('scopes'),
  col('approval_scopes'),
  col('roles'),
  col('max_ttl_seconds'),
  col('zone_id'),
  col('created_at'),
];
const LIST_FIELDS: ReadonlyArray<Field<Grant>> = [col('id'), col('client_id'), col('resource'), col('scopes'), col('max_ttl_seconds')];

const grants = (zone: string) => apiPath`/v1/zones/${zone}/grants`;

export function runGrantCreate(opts: GrantCreateOptions, io: Io): Promise<Grant> {
  return adminApi(io).call<Grant>('POST', grants(opts.zone), {
    application: opts.app,
    resource: opts.resource,
    scopes: opts.scopes,
    ...(opts.roles ? { roles: opts.roles } : {}),
    ...(opts.approvalScopes ? { approval_scopes: opts.approvalScopes } : {}),
    ...(opts.maxTtl !== undefined ? { max_ttl_seconds: opts.maxTtl } : {}),
  });
}
export const runGrantList = (zone: string, io: Io) => adminApi(io).call<{ items: Grant[] }>('GET', grants(zone));
export const runGrantDelete = (zone: string, id: string, io: Io) => adminApi(io).call<Grant>('DELETE', apiPath`/v1/zones/${zone}/grants/${id}`);

export function registerGrantCommands(program: Command, io: Io): void {
  const grant = group(program, 'grant', 'grants (application → resource scopes): create, list, delete');
  zoned(grant, 'create', 'let an application ask for scopes of a resource')
    .requiredOption('--app <app>', 'application id or client_id', appRef('--app'))
    .requiredOption('--resource <resource>', 'resource id, resource://name or bare name', resourceRef('--resource'))
    .requiredOption('--scopes <scopes>', 'comma-separated scopes, e.g. items:read,items:write', scopes)
    .option('--roles <roles>', 'comma-separated roles', csv('--roles', /^[a-z0-9:._-]{1,64}$/, 'role'))
    .option('--approval-scopes <scopes>', 'granted scopes that need an approver before each mint (step-up)', csv('--approval-scopes', SCOPE, 'scope'))
    .option('--max-ttl <seconds>', 'longest token lifetime for this grant, 1-3600 (API default 900)', intIn('--max-ttl', 1, 3600))
    .action(async (opts: GrantCreateOptions) => printRecord(io, opts.json, await runGrantCreate(opts, io), GRANT_FIELDS));
  zoned(grant, 'list', 'list grants').action(async (opts: ZoneOpt) => printList(io, opts.json, await runGrantList(opts.zone, io), LIST_FIELDS));
  zoned(grant, 'delete', 'delete a grant')
    .argument('<grant-id>', 'grant id (UUID)', uuid('<grant-id>'))
    .action(async (id: string, opts: ZoneOpt) => printRecord(io, opts.json, await runGrantDelete(opts.zone, id, io), GRANT_FIELDS));
}
