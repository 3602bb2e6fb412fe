// Check: the STS, asked with a signed re-exchange, allows this method on the canonical path and returns the
// directive (upstream and credential, R-GW-2). Its denial reasons answer through the shared registry.
import { StsUnavailable } from '../sts-client.js';
import { deny, denyVerdict, established, type Exchange } from './exchange.js';

export async function stsAuthorized(x: Exchange): Promise<void> {
  const input = { token: established(x.token, 'the bearer token'), resource: x.resource, method: x.req.method, path: established(x.path, 'the canonical path') };
  let answer;
  try {
    answer = await x.ctx.sts.authorize(input, x.req.id);
  } catch (err) {
    if (err instanceof StsUnavailable) throw deny(x, 'sts_unavailable');
    throw err;
  }
  if (answer.decision !== 'allow') throw denyVerdict(x, answer.reason);
  x.directive = answer;
}
