// `caracal delegation create|accept|decline|list|get|revoke|traverse`: delegation edges between agent sessions at the
// coordinator (R-CO-1).
import type { Command } from 'commander';
import { apiPath } from '../admin/client.js';
import { group, zoned, type ZoneOpt } from '../admin/define.js';
import { intIn, matching, scopes, uuid } from '../admin/flags.js';
import { col, printList, printRecord, type Field } from '../admin/render.js';
import { UsageError } from '../errors.js';
import { cursorFlag, keyOption, printPage, query } from './agent.js';
import { coordinatorApi, idempotencyHeaders, zoneIdOf } from './agent-client.js';
import type { Io } from './io.js';

export interface Delegation {
  id: string;
  zone_id: string;
  source_session_id: string;
  target_session_id: string;
  parent_edge_id: string | null;
  scopes: string[];
  path: string[];
  hop_count: number;
  status: string;
  expires_at: string;
  created_at: string;
  accepted_at: string | null;
  revoked_at: string | null;
  declined_at: string | null;
  revoked?: number;
  descendants_revoked?: string[];
}

const FIELDS: ReadonlyArray<Field<Delegation>> = [
  col('id'),
  col('source_session_id'),
  col('target_session_id'),
  col('scopes'),
  col('hop_count'),
  col('status'),
  col('parent_edge_id'),
  col('expires_at'),
  col('accepted_at'),
  col('revoked_at'),
  col('declined_at'),
];
const REVOKE_FIELDS: ReadonlyArray<Field<Delegation>> = [...FIELDS, col('revoked'), col('descendants_revoked')];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

interface MutateOpt extends ZoneOpt {
  idempotencyKey?: string;
}

export interface CreateOpt {
  zone: string;
  source: string;
  target: string;
  scopes: string[];
  ttl?: number;
  expiresAt?: string;
  parent?: string;
  idempotencyKey?: string;
}

export async function runDelegationCreate(o: CreateOpt, io: Io): Promise<Delegation> {
  if ((o.ttl === undefined) === (o.expiresAt === undefined)) throw new UsageError('exactly one of --ttl and --expires-at is required');
  const zoneId = await zoneIdOf(o.zone, io);
  const body = {
    source_session_id: o.source,
    target_session_id: o.target,
    scopes: o.scopes,
    ...(o.ttl !== undefined ? { ttl_seconds: o.ttl } : {}),
    ...(o.expiresAt !== undefined ? { expires_at: o.expiresAt } : {}),
    ...(o.parent ? { parent_edge_id: o.parent } : {}),
  };
  return coordinatorApi(io).call<Delegation>('POST', `/v1/delegations${query(zoneId)}`, body, { headers: idempotencyHeaders(o.idempotencyKey) });
}

export async function runDelegationList(o: { zone: string; session?: string; limit?: number; cursor?: string }, io: Io) {
  const q = query(await zoneIdOf(o.zone, io), { session_id: o.session, limit: o.limit?.toString(), cursor: o.cursor });
  return coordinatorApi(io).call<{ items: Delegation[]; next_cursor: string | null }>('GET', `/v1/delegations${q}`);
}

export async function runDelegationGet(zone: string, id: string, io: Io) {
  return coordinatorApi(io).call<Delegation>('GET', apiPath`/v1/delegations/${id}` + query(await zoneIdOf(zone, io)));
}

export async function runDelegationTraverse(zone: string, id: string, io: Io) {
  return coordinatorApi(io).call<{ id: string; chain: Delegation[]; subtree: Delegation[] }>('GET', apiPath`/v1/delegations/${id}/traverse` + query(await zoneIdOf(zone, io)));
}

export async function runDelegationAction(action: 'accept' | 'decline' | 'revoke', zone: string, id: string, key: string | undefined, io: Io) {
  const path = apiPath`/v1/delegations/${id}/${action}` + query(await zoneIdOf(zone, io));
  return coordinatorApi(io).call<Delegation>('POST', path, undefined, { headers: idempotencyHeaders(key) });
}

const edgeArg = (c: Command) => c.argument('<delegation-id>', 'delegation id (UUID)', uuid('<delegation-id>'));

export function registerDelegationCommands(program: Command, io: Io): void {
  const d = group(program, 'delegation', 'delegation edges between agent sessions at the coordinator: create, accept, decline, list, get, revoke, traverse');
  keyOption(zoned(d, 'create', 'delegate scopes from one active session to another (pending until another application accepts)'))
    .requiredOption('--source <session-id>', 'the delegating session (UUID, active)', uuid('--source'))
    .requiredOption('--target <session-id>', 'the receiving session (UUID, active, not the source)', uuid('--target'))
    .requiredOption('--scopes <list>', "comma-separated scopes, within the source's grants or its parent delegation", scopes)
    .option('--ttl <seconds>', 'lifetime in seconds (1-86400); never beyond the source session or the parent delegation', intIn('--ttl', 1, 86_400))
    .option('--expires-at <time>', 'absolute expiry (RFC 3339) instead of --ttl', matching('--expires-at', RFC3339, 'an RFC 3339 date-time'))
    .option('--parent <delegation-id>', 'the delegation the source holds and delegates further (UUID); needed when it holds several', uuid('--parent'))
    .action(async (opts: MutateOpt & Omit<CreateOpt, 'zone'>) => printRecord(io, opts.json, await runDelegationCreate({ ...opts, zone: opts.zone }, io), FIELDS));
  zoned(d, 'list', 'list delegations of a zone, oldest first')
    .option('--session <session-id>', 'only delegations from or to this session (UUID)', uuid('--session'))
    .option('--limit <n>', 'at most this many (1-500, default 100)', intIn('--limit', 1, 500))
    .option(...cursorFlag)
    .action(async (opts: ZoneOpt & { session?: string; limit?: number; cursor?: string }) => printPage(io, opts.json, await runDelegationList(opts, io), FIELDS));
  edgeArg(zoned(d, 'get', 'show one delegation')).action(async (id: string, opts: ZoneOpt) => printRecord(io, opts.json, await runDelegationGet(opts.zone, id, io), FIELDS));
  edgeArg(zoned(d, 'traverse', 'show the chain from the root delegation to this one and the subtree below it (what a revoke cuts)')).action(async (id: string, opts: ZoneOpt) => {
    const t = await runDelegationTraverse(opts.zone, id, io);
    if (opts.json) return io.out.json(t);
    io.out.data('chain (root first):');
    printList(io, false, { items: t.chain }, FIELDS);
    io.out.data('subtree (what a revoke cuts):');
    printList(io, false, { items: t.subtree }, FIELDS);
  });
  keyOption(edgeArg(zoned(d, 'accept', "accept a pending delegation to another application's session"))).action(async (id: string, opts: MutateOpt) =>
    printRecord(io, opts.json, await runDelegationAction('accept', opts.zone, id, opts.idempotencyKey, io), FIELDS),
  );
  keyOption(edgeArg(zoned(d, 'decline', "decline a pending delegation to your application's session; it can never be accepted afterwards"))).action(async (id: string, opts: MutateOpt) =>
    printRecord(io, opts.json, await runDelegationAction('decline', opts.zone, id, opts.idempotencyKey, io), FIELDS),
  );
  keyOption(edgeArg(zoned(d, 'revoke', 'revoke a delegation and every delegation below it, in one transaction'))).action(async (id: string, opts: MutateOpt) =>
    printRecord(io, opts.json, await runDelegationAction('revoke', opts.zone, id, opts.idempotencyKey, io), REVOKE_FIELDS),
  );
}
