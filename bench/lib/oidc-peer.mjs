// bench/lib/oidc-peer: the STS benchmark's peer baseline — oidc-provider (in-memory adapter) issuing ES256 JWT access tokens for resource://bench through client_credentials, in its own process.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const CLIENTS = Number(process.env.PEER_CLIENTS ?? 50);
const SECRET = process.env.PEER_CLIENT_SECRET ?? 'peer-bench-secret';

// One fresh ES256 signing key, as a private JWK (what jose's generateKeyPair + exportJWK produce).
const jwk = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: randomUUID() };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: Array.from({ length: CLIENTS }, (_, i) => ({
      client_id: `peer-${i}`,
      client_secret: SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'items:read',
      id_token_signed_response_alg: 'ES256', // the only key is ES256; no ID token is ever issued here
    })),
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['items:read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'resource://bench',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'items:read', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
      },
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ port, pid: process.pid, clients: CLIENTS, secret: SECRET, token_path: '/token' })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
