// One access-log line per request (method, path, status, time) instead of two: the audit ledger already records
// every decision, and on the hot paths (token endpoint, gateway) logging is a measurable share of the CPU.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class OneLineRequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const line = { method: req.method, path: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 };
    if (error || reply.statusCode >= 500) req.log.warn(line, 'request failed');
    else req.log.info(line, 'request');
  }
}
