// The signed re-exchange at the STS (R-GW-2): the gateway presents the caller's mandate with the method and
// path it wants to forward; the STS answers with a directive (upstream and credential) or a denial.
import { signRequest } from '@caracal/internal-auth';
import { Pool } from 'undici';

export const AUTHORIZE_PATH = '/internal/v1/gateway/authorize';

export interface Directive {
  decision: 'allow';
  reason: string;
  upstream_url: string;
  placement: { in: 'header' | 'query'; name: string; value: string } | null;
  zone_id: string;
  client_id: string;
  sid: string;
  jti: string;
  exp: number;
  scope: string;
}

export type AuthorizeAnswer = Directive | { decision: 'deny'; reason: string };

export class StsUnavailable extends Error {
  readonly code = 'CARACAL_STS_UNAVAILABLE';
}

export class StsClient {
  private readonly pool: Pool;

  constructor(
    private readonly o: { stsUrl: string; hmacKey: string; timeoutMs: number; now?: () => number },
  ) {
    // The three bounds cover a call from connect to the last byte of the answer, without a timer of its own per call
    // (`AbortSignal.timeout` cost more CPU per request than the rest of this client).
    this.pool = new Pool(o.stsUrl, { connections: 64, pipelining: 1, connect: { timeout: o.timeoutMs }, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
  }

  async authorize(input: { token: string; resource: string; method: string; path: string }, requestId: string): Promise<AuthorizeAnswer> {
    const body = JSON.stringify(input);
    const headers = signRequest({ key: this.o.hmacKey, method: 'POST', path: AUTHORIZE_PATH, body, nowSeconds: this.o.now ? Math.floor(this.o.now() / 1000) : undefined });
    let res;
    try {
      res = await this.pool.request({
        method: 'POST',
        path: AUTHORIZE_PATH,
        body,
        headers: { ...headers, 'content-type': 'application/json', 'x-request-id': requestId },
      });
    } catch (err) {
      throw new StsUnavailable(`sts unreachable: ${(err as Error).message}`);
    }
    const text = await res.body.text().catch(() => '');
    if (res.statusCode !== 200) throw new StsUnavailable(`sts answered ${res.statusCode}`);
    try {
      const answer = JSON.parse(text) as AuthorizeAnswer;
      if (answer.decision !== 'allow' && answer.decision !== 'deny') throw new Error('no decision');
      return answer;
    } catch {
      throw new StsUnavailable('sts answered an unreadable directive');
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
