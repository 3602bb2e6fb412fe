// A zone's ES256 signing key (R-STS-2): generated here, private half sealed with the KEK and bound to its kid.
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';
import { v7 as uuidv7 } from 'uuid';
import { seal, unseal } from '@caracal/seal';
import { MANDATE_ALG } from './claims.js';

export interface NewZoneKey {
  kid: string;
  publicJwk: JWK;
  privateSealed: Buffer;
}

const context = (zoneId: string, kid: string) => `signing-key:${zoneId}:${kid}`;

export async function createZoneKey(kekHex: string, zoneId: string): Promise<NewZoneKey> {
  const { publicKey, privateKey } = await generateKeyPair(MANDATE_ALG, { extractable: true });
  const kid = uuidv7();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: MANDATE_ALG, use: 'sig' };
  const privateJwk = await exportJWK(privateKey);
  return { kid, publicJwk, privateSealed: seal(kekHex, JSON.stringify(privateJwk), context(zoneId, kid)) };
}

export async function openZoneKey(kekHex: string, zoneId: string, kid: string, sealed: Buffer): Promise<CryptoKey | KeyObject> {
  const jwk = JSON.parse(unseal(kekHex, sealed, context(zoneId, kid)).toString('utf8')) as JWK;
  return (await importJWK(jwk, MANDATE_ALG)) as CryptoKey | KeyObject;
}

export async function publicKeyOf(jwk: JWK): Promise<CryptoKey | KeyObject> {
  // An EC JWK always imports as a key, never as raw bytes.
  return (await importJWK(jwk, MANDATE_ALG)) as CryptoKey | KeyObject;
}
