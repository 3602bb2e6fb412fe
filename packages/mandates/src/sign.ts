// Signs mandates with a zone's ES256 key; jti is a UUIDv7 (time-ordered, R-STS-2).
import { SignJWT, type CryptoKey, type KeyObject } from 'jose';
import { v7 as uuidv7 } from 'uuid';
import { MANDATE_ALG, MANDATE_TYP, type MandateClaims } from './claims.js';

export type MandateInput = Omit<MandateClaims, 'iat' | 'nbf' | 'exp' | 'jti'> & { ttlSeconds: number };

export interface SignedMandate {
  token: string;
  claims: MandateClaims;
}

export async function signMandate(input: MandateInput, key: CryptoKey | KeyObject, kid: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<SignedMandate> {
  const { ttlSeconds, ...rest } = input;
  const claims: MandateClaims = { ...rest, iat: nowSeconds, nbf: nowSeconds, exp: nowSeconds + ttlSeconds, jti: uuidv7() };
  const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg: MANDATE_ALG, kid, typ: MANDATE_TYP }).sign(key);
  return { token, claims };
}

export { uuidv7 };
