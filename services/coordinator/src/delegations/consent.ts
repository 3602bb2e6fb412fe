// The receiver's answer to a delegation across applications (R-CO-1): the target's application (or the operator)
// accepts a pending edge, after which the STS honours it, or declines it, which makes it unusable for good: it is
// never accepted later, and it is revoked with it, so the STS (which honours only accepted, unrevoked edges) and every
// other reader treat it as dead. The source's application can do neither.
import type { PoolClient } from '@caracal/db';
import type { Caller } from '../auth/authenticate.js';
import { findSession } from '../sessions/lifecycle.js';
import type { Outcome } from '../sessions/mutate.js';
import type { SessionRow } from '../sessions/repo.js';
import { activeSession, actsFor, edgeEvent, findEdge, refused } from './edges.js';
import { markAccepted, markDeclined, type EdgeRow } from './repo.js';
import { edgeJson, edgeStatus } from './view.js';

type Answer = 'accept' | 'decline';
const DONE: Record<Answer, { status: string; event: string }> = {
  accept: { status: 'accepted', event: 'delegation.accepted' },
  decline: { status: 'declined', event: 'delegation.declined' },
};

/** The pending edge the caller answers, locked, with its target session; anything else is refused by name. */
async function pendingFor(c: PoolClient, caller: Caller, id: string, answer: Answer): Promise<{ edge: EdgeRow; target: SessionRow }> {
  const edge = await findEdge(c, id, true);
  const target = await findSession(c, edge.target_session_id);
  actsFor(caller, [target.application_id], `${answer}s only delegations made to its own application's sessions`);
  const status = edgeStatus(edge);
  if (status !== 'pending') throw refused(`delegation_${status === 'active' ? 'already_accepted' : status}`, `delegation '${edge.id}' is ${status}; only a pending delegation can be ${DONE[answer].status}`);
  return { edge, target };
}

const answered = (row: EdgeRow, target: SessionRow, answer: Answer): Outcome => ({
  body: edgeJson(row),
  target: `delegation:${row.id}`,
  detail: { status: edgeStatus(row) },
  events: [{ ...edgeEvent(DONE[answer].event, row), application_id: target.application_id }],
});

export async function acceptEdge(c: PoolClient, caller: Caller, id: string): Promise<Outcome> {
  const { edge, target } = await pendingFor(c, caller, id, 'accept');
  activeSession(target, 'target');
  return answered(await markAccepted(c, edge.id), target, 'accept');
}

/** A declined edge had never been accepted, so nothing was minted from it and nothing below it exists to cut. */
export async function declineEdge(c: PoolClient, caller: Caller, id: string): Promise<Outcome> {
  const { edge, target } = await pendingFor(c, caller, id, 'decline');
  return answered(await markDeclined(c, edge.id), target, 'decline');
}
