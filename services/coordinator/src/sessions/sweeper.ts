// The expiry sweeper (R-CO-1): live sessions past expires_at become `expired`. One UPDATE per zone claims each
// row exactly once, so any number of coordinator instances may sweep at the same time; each expiry is announced
// on `caracal.agents.lifecycle` through the outbox.
import { withZone } from '@caracal/db';
import { announce } from '../announce.js';
import type { CoordinatorContext } from '../context.js';
import { expireDue } from './repo.js';

export async function sweepExpired(ctx: CoordinatorContext): Promise<string[]> {
  const zones = (await ctx.deps.pool.query<{ id: string }>('SELECT id FROM zones')).rows;
  const expired: string[] = [];
  const events = (ids: string[]) => ids.map((id) => ({ type: 'agent.session.expired', decision: 'allow' as const, reason: 'ttl_elapsed', data: { agent_session_id: id, status: 'expired' } }));
  for (const z of zones) {
    // The expiry and its lifecycle messages commit together (R-STR-5).
    const { ids, announced } = await withZone(ctx.deps.pool, z.id, async (c) => {
      const due = await expireDue(c);
      return { ids: due, announced: await announce(c, z.id, events(due)) };
    });
    await ctx.outbox.flush(z.id, announced);
    for (const e of events(ids)) await ctx.emit({ zone_id: z.id, subject: 'coordinator:sweeper', ...e });
    expired.push(...ids);
  }
  return expired;
}

/** Runs the sweeper every interval, one pass at a time; a failed pass is logged and the next one retries. */
export function startSweeper(ctx: CoordinatorContext, intervalMs: number): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = sweepExpired(ctx)
      .then((ids) => ids.length > 0 && ctx.logger.info({ expired: ids.length }, 'agent sessions expired'))
      .catch((err: Error) => ctx.logger.warn({ err: { message: err.message } }, 'expiry sweep failed; retrying next interval'))
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
