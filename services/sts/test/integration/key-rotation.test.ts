// Key rotation (R-STS-2): mandates signed with the previous key stay valid during the overlap, new ones use the
// new kid, the JWKS publishes both, and once the overlap ends nothing signed with the old key is accepted.
import { publishSigned, StreamKeys } from '@caracal/streams';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, EXCHANGE, startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';

let s: AuthorityStack;
let p: Provisioned;

beforeAll(async () => {
  s = await startAuthorityStack('rotation');
  p = await s.provision('rot');
});
afterAll(() => s.stop());

const kidOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString('utf8')).kid as string;
const gw = (token: string) => fetch(`${s.gateway.url}/${p.resource.slice(11)}/items`, { headers: { authorization: `Bearer ${token}` } });
const jwksKids = async () => ((await fetch(`${s.sts.url}/.well-known/jwks.json?zone_id=${p.zoneId}`).then((r) => r.json())) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();

describe('rotation', () => {
  it('keeps old mandates valid through the overlap, signs new ones with the new key, and ends cleanly', async () => {
    const session = await s.session(p);
    const oldKid = kidOf(session);
    const oldMandates = [await s.mandate(p, session), await s.mandate(p, session)];
    expect(kidOf(oldMandates[0]!)).toBe(oldKid);

    const rotated = await s.admin('POST', `/v1/zones/${p.slug}/rotate-key`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.previous_kid).toBe(oldKid);
    const newKid = rotated.body.kid as string;
    expect(newKid).not.toBe(oldKid);
    expect(await jwksKids()).toEqual([newKid, oldKid].sort());

    // During the overlap: an old-key mandate still passes, and the old session mandate can still be exchanged.
    expect((await gw(oldMandates[0]!)).status).toBe(200);
    const fresh = await s.mandate(p, session);
    expect(kidOf(fresh)).toBe(newKid);
    expect((await gw(fresh)).status).toBe(200);

    // End the overlap now instead of waiting an hour, and announce it as a rotation would.
    await adminQuery(s.db.adminUrl, "UPDATE caracal.signing_keys SET retire_after = now() - interval '1 second' WHERE kid = $1", [oldKid]);
    const r = new Redis(s.env.REDIS_URL);
    try {
      await publishSigned(r, new StreamKeys(s.prefix), 'caracal.keys.invalidate', { zone_id: p.zoneId, kid: oldKid, action: 'retired' }, s.env.STREAMS_HMAC_KEY);
    } finally {
      r.disconnect();
    }
    await new Promise((res) => setTimeout(res, 1500));

    expect(await jwksKids()).toEqual([newKid]);
    const denied = await gw(oldMandates[1]!);
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as any).error_description).toBe('the mandate is not acceptable (unknown_key)');
    const exchange = await s.token({ grant_type: EXCHANGE, subject_token: session, subject_token_type: ACCESS, resource: p.resource, scope: 'items:read' });
    expect(exchange.status).toBe(400);
    expect(exchange.body.error_description).toBe('the subject token is not acceptable (unknown_key)');
  });

  it('a second rotation retires the previous key at once: at most two keys are ever published', async () => {
    const first = await s.admin('POST', `/v1/zones/${p.slug}/rotate-key`);
    const second = await s.admin('POST', `/v1/zones/${p.slug}/rotate-key`);
    expect(second.body.previous_kid).toBe(first.body.kid);
    await new Promise((res) => setTimeout(res, 500));
    expect(await jwksKids()).toEqual([second.body.kid, first.body.kid].sort());
  });

  it('needs the write capability and an existing zone', async () => {
    expect((await s.admin('POST', '/v1/zones/no-such-zone/rotate-key')).status).toBe(404);
    const res = await fetch(`${s.api.url}/v1/zones/${p.slug}/rotate-key`, { method: 'POST', headers: { authorization: `Bearer ${'0'.repeat(64)}` } });
    expect(res.status).toBe(401);
  });
});
