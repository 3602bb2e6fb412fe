// Check: the request target after the resource prefix has one canonical form, which the STS matches operation
// rules against and the upstream receives byte for byte (R-GW-1, RFC 3986 §6.2.2).
import { canonicalTarget } from '../proxy/canonical-path.js';
import { deny, type Exchange } from './exchange.js';

export function pathCanonical(x: Exchange): void {
  const raw = x.req.raw.url ?? '/';
  const rest = raw.slice(1 + x.name.length) || '/';
  const checked = canonicalTarget(rest.startsWith('?') ? `/${rest}` : rest);
  if (!checked.ok) throw deny(x, 'path_rejected', `the request path is refused (${checked.reason})`);
  x.path = checked.path;
}
