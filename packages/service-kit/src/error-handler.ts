// The one place errors become responses: typed errors keep their status and code; framework errors are mapped
// to RFC-shaped bodies; driver errors are classified once (classify-failure.ts); anything unexpected is a 500
// whose detail is logged and never returned (STYLE 4).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { classifyFailure } from './classify-failure.js';
import { ServiceError } from './errors.js';

const FRAMEWORK: Record<string, { status: number; error: string; description: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'unsupported_media_type', description: 'unsupported content type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'invalid_request', description: 'invalid content-length' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'payload_too_large', description: 'request body too large' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'invalid_request', description: 'empty JSON body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'invalid_request', description: 'malformed JSON body' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, error: 'unsupported_media_type', description: 'missing content type' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, error: 'unsupported_media_type', description: 'invalid content type' },
};

export function sendError(reply: FastifyReply, status: number, error: string, description: string, headers: Record<string, string> = {}, extra: Record<string, string> = {}) {
  return reply.code(status).headers(headers).type('application/json; charset=utf-8').send({ error, error_description: description, ...extra });
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((raw: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const classified = raw instanceof ServiceError ? undefined : classifyFailure(raw);
    // The cause is logged (code and message, never the parameters); the answer carries the class only.
    if (classified) req.log.warn({ err: { message: raw.message, code: raw.code } }, 'dependency or data error');
    const err = classified ?? raw;
    if (err instanceof ServiceError) {
      if (err.statusCode >= 500 && !classified) req.log.warn({ err: { message: err.message, code: err.error } }, 'request refused');
      return sendError(reply, err.statusCode, err.error, err.description, err.headers, err.extra);
    }
    if (err.validation) {
      const first = err.validation[0];
      const where = err.validationContext ?? 'request';
      const path = first?.instancePath ? `${where}${first.instancePath.replace(/\//g, '.')}` : where;
      const detail =
        first?.keyword === 'additionalProperties'
          ? `unknown field '${String((first.params as { additionalProperty?: string }).additionalProperty)}' in ${path}`
          : `${path} ${first?.message ?? 'is invalid'}`;
      return sendError(reply, 400, 'invalid_request', detail);
    }
    const mapped = err.code ? FRAMEWORK[err.code] : undefined;
    if (mapped) return sendError(reply, mapped.status, mapped.error, mapped.description);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, 'invalid_request', 'the request could not be processed');
    }
    req.log.error({ err }, 'unhandled error');
    return sendError(reply, 500, 'server_error', 'internal error');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
}
