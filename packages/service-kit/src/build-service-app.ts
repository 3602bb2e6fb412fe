// The Fastify frame every service stands in: request ids, security headers, one error handler, `/health`,
// the `/ready` ladder and `/metrics` behind the bearer (R-SHAPE-4, R-OPS-1).
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@caracal/logging';
import { answerClientError } from './client-error.js';
import { installErrorHandler, sendError } from './error-handler.js';
import { OneLineRequestLog } from './request-log.js';
import { bearerMatches, type ServiceMetrics } from './metrics.js';
import { runLadder, type ReadinessCheck, type ReadinessResult } from './readiness.js';
import { lazyCompilers } from './lazy-schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The readiness ladder as GET /ready runs it, without a request or its log lines (polled for the supervisor). */
    readiness: () => Promise<ReadinessResult>;
  }
}

export interface ServiceAppOptions {
  service: string;
  logger: Logger;
  mode: 'dev' | 'stable';
  metrics: ServiceMetrics;
  metricsBearer: string | undefined;
  readiness: readonly ReadinessCheck[];
  bodyLimit?: number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function buildServiceApp(opts: ServiceAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // A caller's request id is kept only when it is short and plain; otherwise we mint one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    logController: new OneLineRequestLog(),
    // Errors raised before routing (a URL that does not decode, a bad content type) get the same RFC shape.
    frameworkErrors: (err, _req, reply) => {
      const status = err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_ASYNC_CONSTRAINT' ? 400 : (err.statusCode ?? 400);
      void sendError(reply, status, status >= 500 ? 'server_error' : 'invalid_request', err.code === 'FST_ERR_BAD_URL' ? 'malformed URL' : 'the request could not be processed');
    },
    // Node's own parser refusals (400, 431) get the same RFC-shaped JSON body as every other refusal.
    clientErrorHandler: answerClientError,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Each route's schemas are compiled on its first request, not while the service starts (lazy-schemas.ts).
    schemaController: { compilersFactory: lazyCompilers() },
  });

  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
    reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });
  installErrorHandler(app);

  app.get('/health', async () => ({ ok: true, service: opts.service }));

  app.decorate('readiness', async () => {
    const result = await runLadder(opts.readiness);
    opts.metrics.ready.set(result.ready ? 1 : 0);
    return result;
  });

  app.get('/ready', async (_req, reply) => {
    const result = await app.readiness();
    if (result.ready) return { ok: true, ready: true, service: opts.service };
    app.log.warn({ reason: result.reason, detail: result.detail }, 'not ready');
    return reply.code(503).send({ ok: false, ready: false, service: opts.service, reason: result.reason });
  });

  app.get('/metrics', async (req, reply) => {
    // Stable mode always demands the bearer; dev mode only when one is configured.
    if (opts.mode === 'stable' || opts.metricsBearer) {
      if (!opts.metricsBearer || !bearerMatches(req.headers.authorization, opts.metricsBearer)) {
        return sendError(reply, 401, 'unauthorized', 'metrics require the metrics bearer token', { 'www-authenticate': 'Bearer' });
      }
    }
    reply.type(opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });

  return app;
}
