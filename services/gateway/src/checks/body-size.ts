// Check: a declared request body is within the limit (R-GW-4); a streamed one is counted while forwarding.
import { deny, type Exchange } from './exchange.js';

export function bodySize(x: Exchange): void {
  const declared = Number(x.req.headers['content-length'] ?? 0);
  if (declared > x.ctx.config.GATEWAY_BODY_LIMIT_BYTES) throw deny(x, 'request_too_large');
  x.declaredLength = declared;
}
