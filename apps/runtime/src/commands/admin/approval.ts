// `caracal approval list|approve|reject`: decide step-up requests (R-STS-5); approving needs the `approve`
// capability.
import { Option, type Command } from 'commander';
import { adminApi, apiPath } from '../../admin/client.js';
import { group, zoned, type ZoneOpt } from '../../admin/define.js';
import { uuid } from '../../admin/flags.js';
import { col, printList, printRecord, type Field } from '../../admin/render.js';
import type { Io } from '../io.js';

export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'consumed', 'expired'] as const;

export interface Approval {
  id: string;
  zone_id: string;
  application_id: string;
  resource_id: string | null;
  scopes: string[];
  status: (typeof APPROVAL_STATUSES)[number];
  requested_at: string;
  expires_at: string;
  decided_at: string | null;
  decided_by: string | null;
  consumed_at: string | null;
}

const FIELDS: ReadonlyArray<Field<Approval>> = [
  col('id'),
  col('status'),
  col('application_id'),
  col('resource_id'),
  col('scopes'),
  col('requested_at'),
  col('expires_at'),
  col('decided_by'),
  col('decided_at'),
  col('consumed_at'),
];
const LIST_FIELDS: ReadonlyArray<Field<Approval>> = [col('id'), col('status'), col('scopes'), col('requested_at'), col('expires_at')];

interface ListOptions extends ZoneOpt {
  status?: Approval['status'];
}

export const runApprovalList = (opts: ListOptions, io: Io) =>
  adminApi(io).call<{ items: Approval[] }>('GET', `${apiPath`/v1/zones/${opts.zone}/approvals`}${opts.status ? `?status=${opts.status}` : ''}`);
export const runApprovalDecide = (zone: string, id: string, verb: 'approve' | 'reject', io: Io) =>
  adminApi(io).call<Approval>('POST', apiPath`/v1/zones/${zone}/approvals/${id}/${verb}`);

export function registerApprovalCommands(program: Command, io: Io): void {
  const approval = group(program, 'approval', 'step-up approvals: list, approve, reject');
  zoned(approval, 'list', 'list approvals (at most 500), newest first')
    .addOption(new Option('--status <status>', 'only this status').choices(APPROVAL_STATUSES))
    .action(async (opts: ListOptions) => printList(io, opts.json, await runApprovalList(opts, io), LIST_FIELDS));
  for (const verb of ['approve', 'reject'] as const) {
    zoned(approval, verb, `${verb} a pending request (needs the approve capability)`)
      .argument('<approval-id>', 'approval id (UUID)', uuid('<approval-id>'))
      .action(async (id: string, opts: ZoneOpt) => printRecord(io, opts.json, await runApprovalDecide(opts.zone, id, verb, io), FIELDS));
  }
}
