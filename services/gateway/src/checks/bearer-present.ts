// Check: a bearer mandate is present, well-formed and at most 4 KiB (RFC 6750 §2.1, R-GW-1).
import { MAX_TOKEN_BYTES } from '@caracal/mandates';
import { deny, type Exchange } from './exchange.js';

// The auth-scheme is case-insensitive (RFC 9110 §11.1, RFC 6750 §2.1); one or more spaces precede the b64token.
const BEARER = /^bearer +([A-Za-z0-9._-]+)$/i;

export function bearerPresent(x: Exchange): void {
  const header = x.req.headers.authorization;
  if (!header) throw deny(x, 'missing_token');
  const m = BEARER.exec(header);
  if (!m) throw deny(x, 'malformed_token', 'the authorization header is not a bearer token');
  const token = m[1]!;
  if (token.length > MAX_TOKEN_BYTES) throw deny(x, 'token_too_large', 'the bearer token is larger than 4 KiB');
  x.token = token;
}
