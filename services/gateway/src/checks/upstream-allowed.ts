// Check: the directive's upstream passes the SSRF guard, by URL and by every address it resolves to (R-GW-3);
// the connection is checked again at connect time.
import { checkUpstreamUrl, preflightResolve } from '@caracal/ssrf-guard';
import { deny, established, type Exchange } from './exchange.js';

export async function upstreamAllowed(x: Exchange): Promise<void> {
  const directive = established(x.directive, 'the directive');
  const upstream = checkUpstreamUrl(directive.upstream_url, x.ctx.policy);
  if (!upstream.ok) throw deny(x, 'upstream_blocked');
  const pre = await preflightResolve(upstream.url, x.ctx.resolve, x.ctx.policy);
  if (!pre.ok) throw deny(x, 'upstream_blocked');
  x.upstream = upstream.url;
}
