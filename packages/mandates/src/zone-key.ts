// A zone's ES256 signing key (R-STS-2): generated here, private half sealed with the KEK and bound to its kid.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { seal, unseal } from '@caracal/seal';
import { MANDATE_ALG } from './claims.js';

export type PublicJwk = JsonWebKey & { kid: string; alg: string; use: string };

export interface NewZoneKey {
  kid: string;
  publicJwk: PublicJwk;
  privateSealed: Buffer;
}

const context = (zoneId: string, kid: string) => `signing-key:${zoneId}:${kid}`;

export async function createZoneKey(kekHex: string, zoneId: string): Promise<NewZoneKey> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = uuidv7();
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const publicJwk: PublicJwk = { kty, crv, x, y, kid, alg: MANDATE_ALG, use: 'sig' };
  return { kid, publicJwk, privateSealed: seal(kekHex, JSON.stringify(privateKey.export({ format: 'jwk' })), context(zoneId, kid)) };
}

export async function openZoneKey(kekHex: string, zoneId: string, kid: string, sealed: Buffer): Promise<KeyObject> {
  const jwk = JSON.parse(unseal(kekHex, sealed, context(zoneId, kid)).toString('utf8')) as JsonWebKey;
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

/** Imports a published P-256 public JWK; anything else (another curve, a private key) is refused. */
export function publicKeyOf(jwk: JsonWebKey): KeyObject {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || 'd' in jwk) throw new TypeError('not a P-256 public key');
  const { kty, crv, x, y } = jwk;
  return createPublicKey({ key: { kty, crv, x, y }, format: 'jwk' });
}
