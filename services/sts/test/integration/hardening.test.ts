// Issue 8 at the token endpoint: a gateway mandate is no exchangeable subject, unverified requests are audited
// in the platform zone (never the zone they claim), and guessing secrets from one address locks out no one else.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_ZONE_ID } from '../../../../packages/db/dist/index.js';
import { ACCESS, EXCHANGE, startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { decodePayload, signWithStrangerKey, tamper } from '../../../../test-support/forge.js';

let s: AuthorityStack;
let p: Provisioned;
let session: string;

beforeAll(async () => {
  s = await startAuthorityStack('stshard');
  p = await s.provision('hard', { scopes: ['items:read'] });
  session = await s.session(p);
});
afterAll(() => s.stop());

async function auditFor(requestId: string | null) {
  for (let i = 0; i < 20; i++) {
    const event = (await s.auditEvents()).find((e) => e.request_id === requestId);
    if (event) return event;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

const exchange = (subject: string) => s.token({ grant_type: EXCHANGE, subject_token: subject, subject_token_type: ACCESS, resource: p.resource, scope: 'items:read' });

describe('only session mandates are exchangeable subjects', () => {
  it.each([
    ['not yet consumed', false],
    ['consumed at the gateway', true],
  ])('a gateway mandate %s → 400 invalid_grant subject_not_exchangeable, audited in its zone', async (_name, consume) => {
    const mandate = await s.mandate(p, session);
    if (consume) {
      const used = await fetch(`${s.gateway.url}/hard-api/items`, { headers: { authorization: `Bearer ${mandate}` } });
      expect(used.status).toBe(200);
    }
    const res = await exchange(mandate);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'the subject token is not acceptable (subject_not_exchangeable)' });
    expect(await auditFor(res.headers.get('x-request-id'))).toMatchObject({
      type: 'mandate.denied',
      decision: 'deny',
      reason: 'subject_not_exchangeable',
      zone_id: p.zoneId,
      client_id: p.clientId,
    });
  });
});

describe('an unverified request is audited in the platform zone, never in the zone it claims', () => {
  it('a forged token claiming a real zone', async () => {
    const res = await exchange(tamper(session, { scope: 'items:write' }));
    expect(res.status).toBe(400);
    const event = await auditFor(res.headers.get('x-request-id'));
    expect(event).toMatchObject({ type: 'mandate.denied', decision: 'deny', reason: 'bad_signature', zone_id: PLATFORM_ZONE_ID });
    expect(event?.client_id).toBeUndefined();
  });

  it('a token claiming a zone that does not exist', async () => {
    const res = await exchange(await signWithStrangerKey({ ...decodePayload(session), zone_id: randomUUID() }));
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'the subject token is not acceptable (unknown_key)' });
    expect(await auditFor(res.headers.get('x-request-id'))).toMatchObject({ reason: 'unknown_key', zone_id: PLATFORM_ZONE_ID });
  });
});

describe('failed client authentication is audited', () => {
  it('an unknown client in the platform zone, without the presented secret', async () => {
    const secret = `s3cr3t-${randomUUID()}`;
    const res = await s.token({ grant_type: 'client_credentials', client_id: `${p.clientId.slice(0, -4)}0000`, client_secret: secret });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    const event = await auditFor(res.headers.get('x-request-id'));
    expect(event).toMatchObject({ type: 'client.auth_failed', decision: 'deny', reason: 'unknown_client', zone_id: PLATFORM_ZONE_ID });
    expect(JSON.stringify(event)).not.toContain(secret);
  });

  it('a client id that is not even ours, in the platform zone', async () => {
    const res = await s.token({ grant_type: 'client_credentials', client_id: 'someone', client_secret: 'x' });
    expect(res.status).toBe(401);
    expect(await auditFor(res.headers.get('x-request-id'))).toMatchObject({ type: 'client.auth_failed', reason: 'unknown_client', zone_id: PLATFORM_ZONE_ID });
  });

  it("a known client's failure in that client's zone", async () => {
    const res = await s.token({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: 'f'.repeat(64) });
    expect(res.status).toBe(401);
    const event = await auditFor(res.headers.get('x-request-id'));
    expect(event).toMatchObject({ type: 'client.auth_failed', reason: 'bad_client_secret', zone_id: p.zoneId, client_id: p.clientId });
    expect(JSON.stringify(event)).not.toContain('f'.repeat(64));
  });
});
