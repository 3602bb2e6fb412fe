// `caracal revocation create|list`: revoke a session, delegation edge or application in one call (R-STS-6).
import { Option, type Command } from 'commander';
import { adminApi, apiPath } from '../../admin/client.js';
import { group, zoned, type ZoneOpt } from '../../admin/define.js';
import { text, uuid } from '../../admin/flags.js';
import { col, printList, printRecord, type Field } from '../../admin/render.js';
import type { Io } from '../io.js';

export const REVOCATION_TARGETS = ['authority_session', 'agent_session', 'delegation_edge', 'application'] as const;

export interface Revocation {
  id: string;
  zone_id: string;
  target_type: (typeof REVOCATION_TARGETS)[number];
  target_id: string;
  reason: string | null;
  revoked_by: string;
  revoked_at: string;
  /** false when the target had already been revoked: revocation is idempotent. */
  created?: boolean;
}

export const REVOCATION_FIELDS: ReadonlyArray<Field<Revocation>> = [
  col('id'),
  col('target_type'),
  col('target_id'),
  col('reason'),
  col('revoked_by'),
  col('revoked_at'),
  col('created'),
];
const LIST_FIELDS: ReadonlyArray<Field<Revocation>> = [col('revoked_at'), col('target_type'), col('target_id'), col('revoked_by'), col('reason')];

/** --reason, as the API bounds it. */
export const reasonOption = () => new Option('--reason <text>', 'why (recorded and audited)').argParser(text('--reason', 500));

export interface RevocationCreateOptions extends ZoneOpt {
  type: Revocation['target_type'];
  target: string;
  reason?: string;
}

export function runRevocationCreate(opts: RevocationCreateOptions, io: Io): Promise<Revocation> {
  const body = { target_type: opts.type, target_id: opts.target, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) };
  return adminApi(io).call<Revocation>('POST', apiPath`/v1/zones/${opts.zone}/revocations`, body);
}
export const runRevocationList = (zone: string, io: Io) => adminApi(io).call<{ items: Revocation[] }>('GET', apiPath`/v1/zones/${zone}/revocations`);

export function registerRevocationCommands(program: Command, io: Io): void {
  const revocation = group(program, 'revocation', 'revocations: create, list');
  zoned(revocation, 'create', 'revoke a target; durable first, then announced to every service')
    .addOption(new Option('--type <type>', 'what to revoke').choices(REVOCATION_TARGETS).makeOptionMandatory())
    .requiredOption('--target <id>', 'id of the target (UUID)', uuid('--target'))
    .addOption(reasonOption())
    .action(async (opts: RevocationCreateOptions) => printRecord(io, opts.json, await runRevocationCreate(opts, io), REVOCATION_FIELDS));
  zoned(revocation, 'list', 'list the latest revocations (at most 500)').action(async (opts: ZoneOpt) =>
    printList(io, opts.json, await runRevocationList(opts.zone, io), LIST_FIELDS),
  );
}
