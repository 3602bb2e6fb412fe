// `caracal zone create|list|get|rotate-key`: zones and their signing keys (R-API-1, R-STS-2).
import type { Command } from 'commander';
import { adminApi, apiPath } from '../../admin/client.js';
import { group, leaf, type JsonOpt } from '../../admin/define.js';
import { slug, text, zoneRef } from '../../admin/flags.js';
import { col, printList, printRecord, type Field } from '../../admin/render.js';
import type { Io } from '../io.js';

export interface Zone {
  id: string;
  slug: string;
  name: string;
  created_at: string;
}

export interface KeyRotation {
  kid: string;
  previous_kid: string | null;
  previous_valid_until: string | null;
}

const ZONE_FIELDS: ReadonlyArray<Field<Zone>> = [col('id'), col('slug'), col('name'), col('created_at')];
const ROTATION_FIELDS: ReadonlyArray<Field<KeyRotation>> = [col('kid'), col('previous_kid'), col('previous_valid_until')];

export const runZoneCreate = (slugValue: string, name: string, io: Io) => adminApi(io).call<Zone>('POST', '/v1/zones', { slug: slugValue, name });
export const runZoneList = (io: Io) => adminApi(io).call<{ items: Zone[] }>('GET', '/v1/zones');
export const runZoneGet = (zone: string, io: Io) => adminApi(io).call<Zone>('GET', apiPath`/v1/zones/${zone}`);
export const runZoneRotateKey = (zone: string, io: Io) => adminApi(io).call<KeyRotation>('POST', apiPath`/v1/zones/${zone}/rotate-key`);

export function registerZoneCommands(program: Command, io: Io): void {
  const zone = group(program, 'zone', 'zones: create, list, get, rotate the signing key');
  leaf(zone, 'create', 'create a zone')
    .argument('<slug>', 'lowercase letters, digits and dashes', slug)
    .requiredOption('--name <name>', 'display name', text('--name', 200))
    .action(async (s: string, opts: JsonOpt & { name: string }) => printRecord(io, opts.json, await runZoneCreate(s, opts.name, io), ZONE_FIELDS));
  leaf(zone, 'list', 'list zones (a zone-scoped token sees only its own)').action(async (opts: JsonOpt) => printList(io, opts.json, await runZoneList(io), ZONE_FIELDS));
  leaf(zone, 'get', 'show one zone')
    .argument('<zone>', 'zone id or slug', zoneRef)
    .action(async (z: string, opts: JsonOpt) => printRecord(io, opts.json, await runZoneGet(z, io), ZONE_FIELDS));
  leaf(zone, 'rotate-key', "rotate the zone's signing key; the previous key stays valid for the overlap")
    .argument('<zone>', 'zone id or slug', zoneRef)
    .action(async (z: string, opts: JsonOpt) => printRecord(io, opts.json, await runZoneRotateKey(z, io), ROTATION_FIELDS));
}
