// Fail closed when Postgres or Redis fails mid-request (§15): the caller gets a 503, never a partial answer such
// as a verification that stopped half-way; the cause is logged, not returned.
import { classifyFailure, ServiceError, ServiceUnavailable } from '@caracal/service-kit';
import type { ApiContext } from '../context.js';

export async function dependency<T>(ctx: ApiContext, what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    // Bad input stays bad input (a 4xx naming the field), never reported as an outage.
    const classified = classifyFailure(err);
    if (classified && classified.statusCode < 500) throw classified;
    ctx.logger.warn({ err: { message: (err as Error)?.message } }, `${what} failed`);
    throw new ServiceUnavailable(`${what} is temporarily unavailable`);
  }
}
