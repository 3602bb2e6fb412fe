// `caracal agent start|list|get|heartbeat|suspend|resume|end|tree`: agent sessions at the coordinator (R-CO-1).
import type { Command } from 'commander';
import { apiPath } from '../admin/client.js';
import { group, zoned, type ZoneOpt } from '../admin/define.js';
import { intIn, matching, uuid } from '../admin/flags.js';
import { col, printList, printRecord, type Field } from '../admin/render.js';
import { coordinatorApi, idempotencyHeaders, zoneIdOf } from './agent-client.js';
import type { Io } from './io.js';

export interface AgentSession {
  id: string;
  zone_id: string;
  application_id: string;
  parent_id: string | null;
  depth: number;
  status: string;
  ttl_seconds: number;
  expires_at: string;
  last_heartbeat_at: string;
  created_at: string;
  ended_at: string | null;
  descendants_ended?: string[];
}

const FIELDS: ReadonlyArray<Field<AgentSession>> = [col('id'), col('parent_id'), col('depth'), col('status'), col('application_id'), col('expires_at'), col('last_heartbeat_at'), col('ended_at')];
const END_FIELDS: ReadonlyArray<Field<AgentSession>> = [...FIELDS, col('descendants_ended')];

const STATUS = /^(active|suspended|ended|expired|revoked)$/;
/** Mirrors the coordinator's check: 1-255 printable ASCII characters, no spaces. */
export const idempotencyKey = matching('--idempotency-key', /^[\x21-\x7e]{1,255}$/, '1-255 printable ASCII characters without spaces');

interface MutateOpt extends ZoneOpt {
  idempotencyKey?: string;
}

export const query = (zoneId: string, extra: Record<string, string | undefined> = {}) => {
  const q = new URLSearchParams({ zone_id: zoneId });
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, v);
  return `?${q.toString()}`;
};

export async function runAgentStart(o: { zone: string; application: string; ttl: number; parent?: string; idempotencyKey?: string }, io: Io): Promise<AgentSession> {
  const zoneId = await zoneIdOf(o.zone, io);
  const body = { application_id: o.application, ttl_seconds: o.ttl, ...(o.parent ? { parent_id: o.parent } : {}) };
  return coordinatorApi(io).call<AgentSession>('POST', `/v1/agents${query(zoneId)}`, body, { headers: idempotencyHeaders(o.idempotencyKey) });
}

export async function runAgentList(o: { zone: string; status?: string; parent?: string; limit?: number; cursor?: string }, io: Io) {
  const zoneId = await zoneIdOf(o.zone, io);
  const q = query(zoneId, { status: o.status, parent_id: o.parent, limit: o.limit?.toString(), cursor: o.cursor });
  return coordinatorApi(io).call<{ items: AgentSession[]; next_cursor: string | null }>('GET', `/v1/agents${q}`);
}

export async function runAgentGet(zone: string, id: string, io: Io) {
  return coordinatorApi(io).call<AgentSession>('GET', apiPath`/v1/agents/${id}` + query(await zoneIdOf(zone, io)));
}

export async function runAgentTree(zone: string, id: string, io: Io) {
  return coordinatorApi(io).call<{ root: string; items: AgentSession[] }>('GET', apiPath`/v1/agents/${id}/tree` + query(await zoneIdOf(zone, io)));
}

export type AgentAction = 'heartbeat' | 'suspend' | 'resume' | 'end';
export async function runAgentAction(action: AgentAction, zone: string, id: string, key: string | undefined, io: Io) {
  const path = apiPath`/v1/agents/${id}/${action}` + query(await zoneIdOf(zone, io));
  return coordinatorApi(io).call<AgentSession>('POST', path, undefined, { headers: idempotencyHeaders(key) });
}

const sessionArg = (c: Command) => c.argument('<session-id>', 'agent session id (UUID)', uuid('<session-id>'));
/** The page flag of a list: the next_cursor a previous page printed. */
export const cursorFlag = ['--cursor <cursor>', 'the next_cursor of the previous page', matching('--cursor', /^[A-Za-z0-9_-]{1,200}$/, 'a cursor printed by a previous page')] as const;

/** Prints a page; off --json the next page's flag goes to stderr. */
export function printPage<T>(io: Io, json: boolean | undefined, page: { items: T[]; next_cursor: string | null }, fields: ReadonlyArray<Field<T>>): void {
  printList(io, json, page, fields);
  if (!json && page.next_cursor) io.out.info(`more: --cursor ${page.next_cursor}`);
}

export const keyOption = (c: Command) => c.option('--idempotency-key <key>', 'replay-safe key for this change (default: a fresh one per invocation)', idempotencyKey);

export function registerAgentCommands(program: Command, io: Io): void {
  const agent = group(program, 'agent', 'agent sessions at the coordinator: start, list, get, heartbeat, suspend, resume, end, tree');
  keyOption(zoned(agent, 'start', 'start an agent session, optionally as the child of another'))
    .requiredOption('--application <application-id>', 'the application the session acts for (UUID)', uuid('--application'))
    .requiredOption('--ttl <seconds>', 'lifetime in seconds (1-86400)', intIn('--ttl', 1, 86_400))
    .option('--parent <session-id>', 'parent session (UUID, same zone, active); depth ≤ 10', uuid('--parent'))
    .action(async (opts: MutateOpt & { application: string; ttl: number; parent?: string }) => printRecord(io, opts.json, await runAgentStart(opts, io), FIELDS));
  zoned(agent, 'list', 'list agent sessions of a zone, oldest first')
    .option('--status <status>', 'only sessions in this status (active, suspended, ended, expired, revoked)', matching('--status', STATUS, 'one of active, suspended, ended, expired, revoked'))
    .option('--parent <session-id>', 'only children of this session (UUID)', uuid('--parent'))
    .option('--limit <n>', 'page size (1-500, default 100)', intIn('--limit', 1, 500))
    .option(...cursorFlag)
    .action(async (opts: ZoneOpt & { status?: string; parent?: string; limit?: number; cursor?: string }) => printPage(io, opts.json, await runAgentList(opts, io), FIELDS));
  sessionArg(zoned(agent, 'get', 'show one agent session')).action(async (id: string, opts: ZoneOpt) => printRecord(io, opts.json, await runAgentGet(opts.zone, id, io), FIELDS));
  sessionArg(zoned(agent, 'tree', 'show a session and all its descendants, parents first')).action(async (id: string, opts: ZoneOpt) =>
    printList(io, opts.json, await runAgentTree(opts.zone, id, io), FIELDS),
  );
  const actions: Array<[AgentAction, string]> = [
    ['heartbeat', 'record a heartbeat (active sessions only)'],
    ['suspend', 'suspend an active session'],
    ['resume', 'resume a suspended session'],
    ['end', 'end a session and every live descendant, in one transaction'],
  ];
  for (const [action, description] of actions) {
    keyOption(sessionArg(zoned(agent, action, description))).action(async (id: string, opts: MutateOpt) =>
      printRecord(io, opts.json, await runAgentAction(action, opts.zone, id, opts.idempotencyKey, io), action === 'end' ? END_FIELDS : FIELDS),
    );
  }
}
