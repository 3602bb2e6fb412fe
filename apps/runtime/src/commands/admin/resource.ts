// `caracal resource create|list|get|delete`: upstreams and their sealed credentials, never returned (R-API-1).
import type { Command } from 'commander';
import { readSecretFile } from '@caracal/config';
import { adminApi, apiPath } from '../../admin/client.js';
import { group, zoned, type ZoneOpt } from '../../admin/define.js';
import { httpUrl, operation, placement, repeatable, resourceId, resourceRef, type Operation, type Placement } from '../../admin/flags.js';
import { col, printList, printRecord, type Field } from '../../admin/render.js';
import { CliError } from '../../errors.js';
import type { Io } from '../io.js';

export interface Resource {
  id: string;
  zone_id: string;
  identifier: string;
  upstream_url: string;
  has_credential: boolean;
  auth_placement?: Placement | null;
  operations?: Operation[];
  created_at: string;
}

export interface ResourceCreateOptions extends ZoneOpt {
  id: string;
  upstream: string;
  credentialFile?: string;
  placement?: Placement;
  operation?: Operation[];
}

const showPlacement = (p: Placement | null | undefined) => (p ? [p.in, p.name, ...(p.prefix !== undefined ? [JSON.stringify(p.prefix)] : [])].join(':') : null);
const showOperations = (ops: Operation[] | undefined) => (ops ?? []).map((o) => `${o.method} ${o.path}=${o.scope}`);

const RESOURCE_FIELDS: ReadonlyArray<Field<Resource>> = [
  col('id'),
  col('identifier'),
  col('upstream_url'),
  col('has_credential'),
  ['auth_placement', (r) => showPlacement(r.auth_placement)],
  ['operations', (r) => showOperations(r.operations)],
  col('zone_id'),
  col('created_at'),
];
const LIST_FIELDS: ReadonlyArray<Field<Resource>> = [col('identifier'), col('upstream_url'), col('has_credential'), ['operations', (r) => (r.operations ?? []).length], col('id')];

/** Credentials come from a file, never argv (argv is visible in `ps` and shell history); one trailing newline is dropped. */
function readCredential(file: string): string {
  const res = readSecretFile(file);
  if (!res.ok) throw new CliError(`--credential-file: ${res.problem}`);
  if (res.value.length > 8192) throw new CliError(`--credential-file: ${file} holds more than 8192 characters`);
  return res.value;
}

const resources = (zone: string) => apiPath`/v1/zones/${zone}/resources`;
const oneResource = (zone: string, ref: string) => apiPath`/v1/zones/${zone}/resources/${ref}`;

export async function runResourceCreate(opts: ResourceCreateOptions, io: Io): Promise<Resource> {
  const credential = opts.credentialFile === undefined ? undefined : readCredential(opts.credentialFile);
  if (opts.placement && credential === undefined) io.out.warn('--placement without --credential-file: the gateway will have no credential to place');
  const body = {
    identifier: opts.id,
    upstream_url: opts.upstream,
    ...(credential !== undefined ? { credential } : {}),
    ...(opts.placement ? { auth_placement: opts.placement } : {}),
    ...(opts.operation?.length ? { operations: opts.operation } : {}),
  };
  return adminApi(io).call<Resource>('POST', resources(opts.zone), body);
}
export const runResourceList = (zone: string, io: Io) => adminApi(io).call<{ items: Resource[] }>('GET', resources(zone));
export const runResourceGet = (zone: string, ref: string, io: Io) => adminApi(io).call<Resource>('GET', oneResource(zone, ref));
export const runResourceDelete = (zone: string, ref: string, io: Io) => adminApi(io).call<Resource>('DELETE', oneResource(zone, ref));

export function registerResourceCommands(program: Command, io: Io): void {
  const resource = group(program, 'resource', 'resources (upstreams behind the gateway): create, list, get, delete');
  zoned(resource, 'create', 'register an upstream; its credential is sealed by the API and never shown again')
    .requiredOption('--id <identifier>', 'resource://<name>', resourceId)
    .requiredOption('--upstream <url>', 'upstream base URL (http or https, no credentials, query or fragment)', httpUrl('--upstream'))
    .option('--credential-file <file>', 'file holding the upstream credential (one line)')
    .option('--placement <spec>', 'where the gateway puts the credential: header:NAME[:PREFIX] or query:NAME', placement)
    .option('--operation <spec>', "an allowed operation 'METHOD /path[*]=scope' (repeatable)", repeatable(operation))
    .action(async (opts: ResourceCreateOptions) => printRecord(io, opts.json, await runResourceCreate(opts, io), RESOURCE_FIELDS));
  zoned(resource, 'list', 'list resources').action(async (opts: ZoneOpt) => printList(io, opts.json, await runResourceList(opts.zone, io), LIST_FIELDS));
  zoned(resource, 'get', 'show one resource (never its credential)')
    .argument('<resource>', 'resource id, resource://name or bare name', resourceRef('<resource>'))
    .action(async (r: string, opts: ZoneOpt) => printRecord(io, opts.json, await runResourceGet(opts.zone, r, io), RESOURCE_FIELDS));
  zoned(resource, 'delete', 'delete a resource (refused while grants refer to it)')
    .argument('<resource>', 'resource id, resource://name or bare name', resourceRef('<resource>'))
    .action(async (r: string, opts: ZoneOpt) => printRecord(io, opts.json, await runResourceDelete(opts.zone, r, io), RESOURCE_FIELDS));
}
