// Interoperability: a standard OAuth client library (oauth4webapi) discovers the STS and performs both grants,
// and jose's createRemoteJWKSet verifies the issued mandates against the zone JWKS.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, EXCHANGE, startAuthorityStack, type AuthorityStack, type Provisioned } from '../../../../test-support/authority.js';

let s: AuthorityStack;
let p: Provisioned;
let other: Provisioned;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

beforeAll(async () => {
  s = await startAuthorityStack('interop');
  p = await s.provision('interop');
  other = await s.provision('interop-other');
});
afterAll(() => s.stop());

async function server(): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(s.env.CARACAL_ISSUER_URL);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
}

describe('oauth4webapi', () => {
  it('discovers, bootstraps with client_secret_basic, exchanges (RFC 8693), and jose verifies both mandates', async () => {
    const as = await server();
    expect(as.token_endpoint).toBe(`${s.env.CARACAL_ISSUER_URL}/oauth/2/token`);
    const client: oauth.Client = { client_id: p.clientId };
    const auth = oauth.ClientSecretBasic(p.clientSecret);

    const boot = await oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams({ scope: 'agent:lifecycle' }), insecure));
    expect(boot.token_type).toBe('bearer');
    expect(boot.scope).toBe('agent:lifecycle');

    const params = new URLSearchParams({ subject_token: boot.access_token, subject_token_type: ACCESS, resource: p.resource, scope: 'items:read' });
    const exchanged = await oauth.processGenericTokenEndpointResponse(as, client, await oauth.genericTokenEndpointRequest(as, client, auth, EXCHANGE, params, insecure));
    expect(exchanged.issued_token_type).toBe(ACCESS);
    expect(exchanged.expires_in).toBe(900);

    const jwks = createRemoteJWKSet(new URL(`${s.sts.url}/.well-known/jwks.json?zone_id=${p.zoneId}`));
    const session = await jwtVerify(boot.access_token, jwks, { issuer: as.issuer, audience: as.issuer, algorithms: ['ES256'], typ: 'at+jwt' });
    expect(session.payload).toMatchObject({ use: 'session', client_id: p.clientId });
    const mandate = await jwtVerify(exchanged.access_token, jwks, { issuer: as.issuer, audience: p.resource, algorithms: ['ES256'] });
    expect(mandate.payload).toMatchObject({ use: 'gateway', scope: 'items:read', zone_id: p.zoneId });
    expect(mandate.protectedHeader.kid).toBe(session.protectedHeader.kid);

    // Another zone's JWKS does not verify this zone's mandates.
    await s.session(other);
    const otherJwks = createRemoteJWKSet(new URL(`${s.sts.url}/.well-known/jwks.json?zone_id=${other.zoneId}`));
    await expect(jwtVerify(exchanged.access_token, otherJwks)).rejects.toThrow();
  });

  it('the library surfaces our RFC 6749 errors', async () => {
    const as = await server();
    const client: oauth.Client = { client_id: p.clientId };
    const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic('0'.repeat(64)), new URLSearchParams(), insecure);
    // A 401 with a WWW-Authenticate challenge surfaces as the library's challenge error, body intact.
    const err = await oauth.processClientCredentialsResponse(as, client, res).catch((e) => e);
    expect(err).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect(err.status).toBe(401);
    expect(err.cause[0].scheme).toBe('basic');
    expect(await err.response.json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
  });

  it('credentials presented with an exchange must be the subject\'s own client', async () => {
    const session = await s.session(p);
    const basic = Buffer.from(`${other.clientId}:${other.clientSecret}`).toString('base64');
    const res = await s.token({ grant_type: EXCHANGE, subject_token: session, subject_token_type: ACCESS, resource: p.resource, scope: 'items:read' }, { headers: { authorization: `Basic ${basic}` } });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: "the authenticated client is not the subject token's client" });
  });
});
