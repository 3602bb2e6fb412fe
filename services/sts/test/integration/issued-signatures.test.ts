// The re-exchange of a gateway mandate at the sts process that signed it skips the ES256 check; everywhere else the
// mandate is verified in full (token/session-signatures.ts, IssuedSignatures). Real gateway, two sts processes, one
// database; `caracal_sts_gateway_mandate_signatures_total` says which check each re-exchange had.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, EXCHANGE, startAuthorityStack, startService, stopService, type AuthorityStack, type Provisioned, type Running } from '../../../../test-support/authority.js';
import { freePort } from '../../../../test-support/deps.js';
import { buildApp } from '../../dist/app.js';
import { loadConfig } from '../../dist/config.js';

let s: AuthorityStack;
let second: Running;
let p: Provisioned;

beforeAll(async () => {
  s = await startAuthorityStack('stsissued');
  second = await startService(
    'sts',
    buildApp,
    loadConfig({ ...s.env, PORT: String(await freePort()), DATABASE_URL: s.db.roleUrl('sts'), AUDIT_SPILL_DIR: join(s.spillRoot, 'sts-2'), AUTH_FAILURES_PER_MIN: '1000' }),
  );
  p = await s.provision('issued');
});
afterAll(async () => {
  await stopService(second);
  await s.stop();
});

/** The gateway's sts (the one it re-exchanges at): its count of skipped and of full signature checks. */
async function checks(): Promise<{ remembered: number; verified: number }> {
  const text = await fetch(`${s.sts.url}/metrics`, { headers: { authorization: `Bearer ${s.env.METRICS_BEARER}` } }).then((r) => r.text());
  const count = (label: string) => {
    const line = text.split('\n').find((l) => l.startsWith('caracal_sts_gateway_mandate_signatures_total{') && l.includes(`signature="${label}"`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  return { remembered: count('remembered'), verified: count('verified') };
}

async function mintAt(url: string, session: string): Promise<string> {
  const res = await fetch(`${url}/oauth/2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: session, subject_token_type: ACCESS, resource: p.resource, scope: 'items:read' }).toString(),
  });
  const body = (await res.json()) as { access_token?: string; error?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`exchange at ${url} answered ${res.status} ${body.error ?? ''}`);
  return body.access_token;
}

const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

async function protectedCall(token: string): Promise<number> {
  const res = await fetch(`${s.gateway.url}/${p.resource.slice('resource://'.length)}/items`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('gateway mandates at the sts that signed them', () => {
  it('are allowed without a second ES256 check there', async () => {
    const before = await checks();
    expect(await protectedCall(await mintAt(s.sts.url, await s.session(p)))).toBe(200);
    expect(await checks()).toEqual({ remembered: before.remembered + 1, verified: before.verified });
  });

  it('signed by another sts process, are verified in full and allowed', async () => {
    const before = await checks();
    expect(await protectedCall(await mintAt(second.url, await s.session(p)))).toBe(200);
    expect(await checks()).toEqual({ remembered: before.remembered, verified: before.verified + 1 });
  });

  it('signed before a key rotation reached the process, are verified in full against the reloaded key', async () => {
    const session = await s.session(p);
    const old = await mintAt(s.sts.url, session);
    const rotated = await s.admin('POST', `/v1/zones/${p.slug}/rotate-key`);
    expect(rotated.status).toBe(200);
    // The process has reloaded the zone's keys once it signs with the new one.
    const started = Date.now();
    while (kidOf(await mintAt(s.sts.url, session)) !== rotated.body.kid) {
      if (Date.now() - started > 10_000) throw new Error('the sts still signs with the old key after 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = await checks();
    expect(await protectedCall(old)).toBe(200);
    expect(await checks()).toEqual({ remembered: before.remembered, verified: before.verified + 1 });
  });
});
