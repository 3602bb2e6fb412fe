// What a caller may read (R-CO-1): the operator sees every session and edge of its zone; a session mandate sees only
// its own application's sessions and the edges from or to them (an edge across applications is seen by both ends:
// the receiver must see it to accept or decline it). What a mandate may not see answers exactly as an unknown id
// does, so no answer tells another application's ids from ids that do not exist.
import type { PoolClient } from '@caracal/db';
import { InvalidRequest, NotFound } from '@caracal/service-kit';
import { edgesVisibleTo, getEdge, type EdgeRow } from '../delegations/repo.js';
import { getSession, type SessionRow } from '../sessions/repo.js';
import type { Caller } from './authenticate.js';

export const unknownSession = (id: string) => new NotFound(`agent session '${id}' does not exist`);
export const unknownEdge = (id: string) => new NotFound(`delegation '${id}' does not exist`);
export const unknownParent = (id: string) => new InvalidRequest(`parent_id: no agent session '${id}' in this zone`);

/** The application a caller's reads are confined to; null for the operator (the whole zone). */
export const readerOf = (caller: Caller): string | null => (caller.kind === 'mandate' ? caller.applicationId : null);

export const seesSession = (caller: Caller, s: Pick<SessionRow, 'application_id'>): boolean => caller.kind === 'operator' || s.application_id === caller.applicationId;

/** The session, if the caller may see it; otherwise the 404 of an unknown one. */
export async function visibleSession(c: PoolClient, caller: Caller, id: string): Promise<SessionRow> {
  const s = await getSession(c, id);
  if (!s || !seesSession(caller, s)) throw unknownSession(id);
  return s;
}

/** The ids among `ids` of the edges the caller may see. */
export function visibleEdges(c: PoolClient, caller: Caller, ids: readonly string[]): Promise<Set<string>> {
  return edgesVisibleTo(c, ids, readerOf(caller));
}

/** The edge, if the caller may see it; otherwise the 404 of an unknown one. */
export async function visibleEdge(c: PoolClient, caller: Caller, id: string): Promise<EdgeRow> {
  const e = await getEdge(c, id);
  if (!e || !(await visibleEdges(c, caller, [id])).has(id)) throw unknownEdge(id);
  return e;
}

/** A parent named at start: a mandate starts sessions only under its own application's, and another's reads as unknown. */
export async function checkParent(c: PoolClient, caller: Caller, parentId: string | undefined): Promise<void> {
  if (parentId === undefined || caller.kind === 'operator') return;
  const parent = await getSession(c, parentId);
  if (parent && !seesSession(caller, parent)) throw unknownParent(parentId);
}
