// What every api route group receives: config, dependencies, and the audited-mutation helper (R-AUD-5) that also
// queues the change's stream message in the outbox (R-STR-5).
import type { FastifyRequest } from 'fastify';
import { appendAdminAudit, PLATFORM_ZONE_ID, withTransaction, withZone, type PoolClient } from '@caracal/db';
import type { Logger } from '@caracal/logging';
import { enqueue } from '@caracal/outbox';
import { Conflict, ServiceUnavailable, type Outbox, type ServiceDeps } from '@caracal/service-kit';
import type { AuditEmitter, Fields } from '@caracal/streams';
import { actorOf } from './auth/admin-auth.js';
import type { ApiConfig } from './config.js';

export interface ApiContext {
  config: ApiConfig;
  deps: ServiceDeps;
  logger: Logger;
  /** Decisions the control plane makes that belong in the zone's ledger (revocations). */
  emit: AuditEmitter;
  /** The relay that publishes committed outbox rows. */
  outbox: Outbox;
}

export interface Mutation<T> {
  zoneId: string | null;
  action: string;
  target: (result: NoInfer<T>) => string;
  detail?: (result: NoInfer<T>) => Record<string, unknown>;
  run: (client: PoolClient) => Promise<T>;
  /** The stream messages announcing the change, queued in the outbox in the same transaction (R-STR-5). */
  announce?: (result: NoInfer<T>) => { stream: string; fields: Fields } | ReadonlyArray<{ stream: string; fields: Fields }>;
}

/** Postgres unique violation → 409; FK violation → 409 with the given message. */
export function mapDbError(err: unknown, conflict: string): never {
  const code = (err as { code?: string }).code;
  if (code === '23505') throw new Conflict(conflict);
  if (code === '23503') throw new Conflict(`${conflict}: it is still referenced`);
  throw err;
}

/**
 * Runs a mutation, its admin-audit row and its outbox message in one transaction: success is never returned for a
 * change whose audit row did not commit (R-AUD-5), and the message exists exactly when the change does (R-STR-5).
 * After the commit the request's own messages are published before the answer while Redis is reachable; what
 * cannot be published then is retried by the relay.
 */
export async function audited<T>(ctx: ApiContext, req: FastifyRequest, m: Mutation<T>): Promise<T> {
  const key = ctx.config.AUDIT_HMAC_KEY;
  if (!key) throw new ServiceUnavailable('AUDIT_HMAC_KEY is not configured: admin changes cannot be audited');
  // The platform zone (migration 0010) only files events of unverified requests: no client, resource or key may
  // live there, or a forged zone claim would become a real one.
  if (m.zoneId === PLATFORM_ZONE_ID) throw new Conflict('the platform zone holds only the audit events of unverified requests; nothing can be created or changed in it');
  const body = async (client: PoolClient) => {
    const result = await m.run(client);
    await appendAdminAudit(client, key, {
      actor: actorOf(req.admin!),
      action: m.action,
      zoneId: m.zoneId,
      target: m.target(result),
      requestId: req.id,
      detail: m.detail?.(result),
    });
    const announced = m.announce?.(result) ?? [];
    for (const message of Array.isArray(announced) ? announced : [announced]) events.push(await enqueue(client, message.stream, message.fields));
    return result;
  };
  const events: string[] = [];
  if (!m.zoneId) return withTransaction(ctx.deps.pool, body);
  const result = await withZone(ctx.deps.pool, m.zoneId, body);
  await ctx.outbox.flush(m.zoneId, events);
  return result;
}
