// One mutation of agent sessions: inside one zone transaction the Idempotency-Key is taken, the change made, the
// chained admin-audit row appended (R-AUD-5), the stream messages queued in the outbox (R-STR-5) and the answer
// stored; audit events follow the commit (R-AUD-1).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { appendAdminAudit, withZone, type PoolClient } from '@caracal/db';
import { NotFound, ServiceUnavailable } from '@caracal/service-kit';
import type { AuditEventInput } from '@caracal/streams';
import { announce } from '../announce.js';
import type { CoordinatorContext } from '../context.js';
import { recordCut, type RevokedTarget } from '../revocations.js';
import { claimFor, idempotencyKeyOf, storeAnswer, takeKey, type StoredAnswer } from '../idempotency/idempotency.js';
import { zoneExists } from './repo.js';

export type LifecycleEvent = Omit<AuditEventInput, 'zone_id' | 'request_id'>;

export interface Outcome {
  body: Record<string, unknown>;
  target: string;
  detail?: Record<string, unknown>;
  events: LifecycleEvent[];
  /** The roots of what the change revoked: recorded, and their messages queued, in its transaction. */
  revoke?: RevokedTarget[];
}

export interface Mutation {
  action: string;
  status: 200 | 201;
  run: (c: PoolClient) => Promise<Outcome>;
}

/** Runs a read or a change in the caller's zone; an unknown zone is a 404 before anything else is looked at. */
export function inZone<T>(ctx: CoordinatorContext, req: FastifyRequest, zoneId: string, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  return withZone(ctx.deps.pool, zoneId, async (c) => {
    if (!(await zoneExists(c, zoneId))) throw new NotFound(`zone '${zoneId}' does not exist`);
    req.provenZone = zoneId;
    return fn(c);
  });
}

export async function mutate(ctx: CoordinatorContext, req: FastifyRequest, reply: FastifyReply, zoneId: string, m: Mutation) {
  const key = idempotencyKeyOf(req);
  const auditKey = ctx.config.AUDIT_HMAC_KEY;
  if (!auditKey) throw new ServiceUnavailable('AUDIT_HMAC_KEY is not configured: operator changes cannot be audited');
  const claim = key === undefined ? undefined : claimFor(ctx.config.IDEMPOTENCY_HMAC_KEY, req.caller!.actor, key, req.method, req.url, req.body);
  const done = await inZone<{ replay: StoredAnswer } | { outcome: Outcome; announced: string[] }>(ctx, req, zoneId, async (c) => {
    if (claim) {
      const stored = await takeKey(c, zoneId, claim, ctx.config.IDEMPOTENCY_TTL_SECONDS);
      if (stored) return { replay: stored };
    }
    const outcome = await m.run(c);
    const revocations = await recordCut(c, zoneId, outcome.revoke ?? [], m.action, req.caller!.actor);
    // Operator changes are admin changes (R-AUD-5); an application's own are filed in its zone's ledger below.
    if (req.caller!.kind === 'operator') await appendAdminAudit(c, auditKey, { actor: req.caller!.actor, action: m.action, zoneId, target: outcome.target, requestId: req.id, detail: outcome.detail });
    if (claim) await storeAnswer(c, claim, { status: m.status, body: outcome.body });
    return { outcome, announced: [...revocations, ...(await announce(c, zoneId, outcome.events))] };
  });
  if ('replay' in done) return reply.code(done.replay.status).header('idempotent-replayed', 'true').send(done.replay.body);
  // Committed: while Redis is reachable the messages are published before the answer; what fails, the relay retries.
  await ctx.outbox.flush(zoneId, done.announced);
  const caller = req.caller!;
  const who = caller.kind === 'mandate' ? { client_id: caller.clientId } : {};
  for (const e of done.outcome.events) await ctx.emit({ zone_id: zoneId, request_id: req.id, subject: caller.actor, ...who, ...e });
  return reply.code(m.status).send(done.outcome.body);
}
