// The expiry sweeper (R-CO-1): live sessions past expires_at become `expired`. One UPDATE per zone claims each
// row exactly once, so any number of coordinator instances may sweep at the same time.
import { withZone } from '@caracal/db';
import type { CoordinatorContext } from '../context.js';
import { expireDue } from './repo.js';

export async function sweepExpired(ctx: CoordinatorContext): Promise<string[]> {
  const zones = (await ctx.deps.pool.query<{ id: string }>('SELECT id FROM zones')).rows;
  const expired: string[] = [];
  for (const z of zones) {
    const ids = await withZone(ctx.deps.pool, z.id, expireDue);
    for (const id of ids) {
      await ctx.emit({ zone_id: z.id, type: 'agent.session.expired', decision: 'allow', reason: 'ttl_elapsed', subject: 'coordinator:sweeper', data: { agent_session_id: id, status: 'expired' } });
    }
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
