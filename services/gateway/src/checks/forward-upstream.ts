// The handler at the end of the checks: the request goes upstream on the canonical path with the directive's
// credential, and the answer streams back within the response limit (R-GW-2..4).
import { pipeline } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { byteLimit, forward, ForwardError } from '../proxy/forward.js';
import { filterResponseHeaders, forwardRequestHeaders } from '../proxy/headers.js';
import { deny, established, type Exchange } from './exchange.js';
import { auditDecision } from './audit-decision.js';

const BODILESS = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function forwardUpstream(x: Exchange, reply: FastifyReply): Promise<FastifyReply> {
  const { req, ctx } = x;
  const directive = established(x.directive, 'the directive');
  const hasBody = !BODILESS.has(req.method) || (x.declaredLength ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  let res;
  try {
    res = await forward({
      base: established(x.upstream, 'the upstream'),
      path: established(x.path, 'the canonical path'),
      method: req.method,
      headers: forwardRequestHeaders(req.headers, { requestId: req.id }),
      placement: directive.placement,
      body: hasBody ? req.raw : null,
      bodyLimit: ctx.config.GATEWAY_BODY_LIMIT_BYTES,
      timeoutMs: ctx.config.UPSTREAM_TIMEOUT_MS,
      dispatcher: ctx.upstream,
    });
  } catch (err) {
    if (!(err instanceof ForwardError)) throw err;
    throw deny(x, err.failure, err.message);
  }
  const length = Number(res.headers['content-length'] ?? 0);
  if (length > ctx.config.GATEWAY_RESPONSE_LIMIT_BYTES) {
    // Dropped unread: undici reports that as an abort error on the body, which nothing here waits for.
    res.body.on('error', () => undefined).destroy();
    throw deny(x, 'upstream_response_too_large');
  }
  void auditDecision(x, 'allow', 'forwarded', res.statusCode);
  reply.code(res.statusCode).headers(filterResponseHeaders(res.headers));
  const limited = byteLimit(ctx.config.GATEWAY_RESPONSE_LIMIT_BYTES, () => new Error('upstream response exceeded the limit'));
  // pipeline: a caller that goes away, or a body over the limit, also ends the upstream response.
  return reply.send(pipeline(res.body, limited, () => undefined));
}
