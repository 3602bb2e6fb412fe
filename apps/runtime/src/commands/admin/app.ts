// `caracal app create|list|get|rotate-secret|delete`: applications; the client secret is shown once (R-API-1).
import type { Command } from 'commander';
import { adminApi, apiPath } from '../../admin/client.js';
import { group, zoned, type ZoneOpt } from '../../admin/define.js';
import { appRef, label, repeatable, text } from '../../admin/flags.js';
import { col, printList, printRecord, type Field } from '../../admin/render.js';
import type { Io } from '../io.js';

export interface Application {
  id: string;
  zone_id: string;
  client_id: string;
  name: string;
  labels: string[];
  created_at: string;
  secret_rotated_at: string | null;
  disabled_at: string | null;
  client_secret?: string;
}

const APP_FIELDS: ReadonlyArray<Field<Application>> = [
  col('id'),
  col('client_id'),
  col('name'),
  col('labels'),
  col('zone_id'),
  col('created_at'),
  col('secret_rotated_at'),
  col('disabled_at'),
];
const LIST_FIELDS: ReadonlyArray<Field<Application>> = [col('client_id'), col('name'), col('labels'), col('created_at'), col('disabled_at')];
const WITH_SECRET: ReadonlyArray<Field<Application>> = [col('id'), col('client_id'), col('client_secret'), col('name'), col('zone_id')];

const apps = (zone: string) => apiPath`/v1/zones/${zone}/applications`;
const oneApp = (zone: string, app: string) => apiPath`/v1/zones/${zone}/applications/${app}`;

export const runAppCreate = (zone: string, name: string, labels: string[], io: Io) =>
  adminApi(io).call<Application>('POST', apps(zone), labels.length ? { name, labels } : { name });
export const runAppList = (zone: string, io: Io) => adminApi(io).call<{ items: Application[] }>('GET', apps(zone));
export const runAppGet = (zone: string, app: string, io: Io) => adminApi(io).call<Application>('GET', oneApp(zone, app));
export const runAppRotateSecret = (zone: string, app: string, io: Io) => adminApi(io).call<Application>('POST', `${oneApp(zone, app)}/rotate-secret`);
export const runAppDelete = (zone: string, app: string, io: Io) => adminApi(io).call<Application>('DELETE', oneApp(zone, app));

/** The secret goes to stdout as data (it is the result); the reminder goes to stderr. */
function printWithSecret(io: Io, json: boolean | undefined, app: Application): void {
  printRecord(io, json, app, WITH_SECRET);
  io.out.info('the client secret is shown only once: store it now');
}

export function registerAppCommands(program: Command, io: Io): void {
  const app = group(program, 'app', 'applications: create, list, get, rotate-secret, delete');
  zoned(app, 'create', 'register an application; prints client_id and client_secret once')
    .requiredOption('--name <name>', 'display name', text('--name', 200))
    .option('--label <label>', 'a label (repeatable)', repeatable(label))
    .action(async (opts: ZoneOpt & { name: string; label?: string[] }) => printWithSecret(io, opts.json, await runAppCreate(opts.zone, opts.name, opts.label ?? [], io)));
  zoned(app, 'list', 'list applications').action(async (opts: ZoneOpt) => printList(io, opts.json, await runAppList(opts.zone, io), LIST_FIELDS));
  zoned(app, 'get', 'show one application (never its secret)')
    .argument('<app>', 'application id or client_id', appRef('<app>'))
    .action(async (a: string, opts: ZoneOpt) => printRecord(io, opts.json, await runAppGet(opts.zone, a, io), APP_FIELDS));
  zoned(app, 'rotate-secret', 'replace the client secret; prints the new one once')
    .argument('<app>', 'application id or client_id', appRef('<app>'))
    .action(async (a: string, opts: ZoneOpt) => printWithSecret(io, opts.json, await runAppRotateSecret(opts.zone, a, io)));
  zoned(app, 'delete', "disable an application and revoke its sessions' lineage")
    .argument('<app>', 'application id or client_id', appRef('<app>'))
    .action(async (a: string, opts: ZoneOpt) => printRecord(io, opts.json, await runAppDelete(opts.zone, a, io), APP_FIELDS));
}
