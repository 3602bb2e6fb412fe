// `caracal session list|revoke`: authority sessions of a zone and revoking one (R-API-1, R-STS-6).
import type { Command } from 'commander';
import { adminApi, apiPath } from '../../admin/client.js';
import { group, zoned, type ZoneOpt } from '../../admin/define.js';
import { uuid } from '../../admin/flags.js';
import { col, printList, printRecord, type Field } from '../../admin/render.js';
import type { Io } from '../io.js';
import { reasonOption, REVOCATION_FIELDS, type Revocation } from './revocation.js';

export interface Session {
  id: string;
  application_id: string;
  issued_at: string;
  expires_at: string;
  revoked_at: string | null;
}

const SESSION_FIELDS: ReadonlyArray<Field<Session>> = [col('id'), col('application_id'), col('issued_at'), col('expires_at'), col('revoked_at')];

export const runSessionList = (zone: string, io: Io) => adminApi(io).call<{ items: Session[] }>('GET', apiPath`/v1/zones/${zone}/sessions`);
export function runSessionRevoke(zone: string, id: string, reason: string | undefined, io: Io): Promise<Revocation> {
  return adminApi(io).call<Revocation>('POST', apiPath`/v1/zones/${zone}/sessions/${id}/revoke`, reason !== undefined ? { reason } : {});
}

export function registerSessionCommands(program: Command, io: Io): void {
  const session = group(program, 'session', 'authority sessions: list, revoke');
  zoned(session, 'list', 'list the latest authority sessions (at most 500)').action(async (opts: ZoneOpt) =>
    printList(io, opts.json, await runSessionList(opts.zone, io), SESSION_FIELDS),
  );
  zoned(session, 'revoke', 'revoke an authority session and everything derived from it')
    .argument('<session-id>', 'session id (UUID)', uuid('<session-id>'))
    .addOption(reasonOption())
    .action(async (id: string, opts: ZoneOpt & { reason?: string }) => printRecord(io, opts.json, await runSessionRevoke(opts.zone, id, opts.reason, io), REVOCATION_FIELDS));
}
