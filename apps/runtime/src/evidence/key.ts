// The per-installation evidence key (R-EVD-1): `secrets/evidenceSigningKey` holds the P-256 private scalar d as 64
// lowercase hex characters; the public key, its PEM and its fingerprint are derived from it on every use.
import { createECDH, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { readSecretFile } from '@caracal/config';
import { CliError, EXIT } from '../errors.js';
import { keyId } from '../release/keys.js';

export const EVIDENCE_KEY_SECRET = 'evidenceSigningKey';

export interface EvidenceKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SHA-256 hex of the SPKI DER, the same identifier release keys use. */
  fingerprint: string;
  publicPem: string;
}

/** A fresh scalar from a real P-256 key pair, so it is always in [1, n-1] (random 32 bytes could exceed n). */
export function generateEvidenceScalar(): string {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' });
  return Buffer.from(jwk.d!, 'base64url').toString('hex').padStart(64, '0');
}

/** The key pair of a scalar; throws an Error naming the problem when it is not a valid P-256 private key. */
export function evidenceKeyFromScalar(hex: string): EvidenceKey {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error('it is not 64 lowercase hex characters');
  const d = Buffer.from(hex, 'hex');
  const ecdh = createECDH('prime256v1');
  try {
    ecdh.setPrivateKey(d);
  } catch {
    throw new Error('it is not a valid P-256 private scalar');
  }
  const point = ecdh.getPublicKey();
  const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') };
  const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  const privateKey = createPrivateKey({ key: { ...jwk, d: d.toString('base64url') }, format: 'jwk' });
  return { privateKey, publicKey, fingerprint: keyId(publicKey), publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

/** Loads the installation's key; missing, empty or invalid is exit 2 with the way out. */
export function loadEvidenceKey(secretsDir: string): EvidenceKey {
  const file = join(secretsDir, EVIDENCE_KEY_SECRET);
  const res = readSecretFile(file);
  const hint = 'run `caracal init` to create the evidence key (it keeps every existing secret)';
  if (!res.ok) throw new CliError(`no usable evidence signing key: ${res.problem}`, EXIT.usage, hint);
  try {
    return evidenceKeyFromScalar(res.value);
  } catch (e) {
    throw new CliError(`no usable evidence signing key: ${file} is invalid: ${(e as Error).message}`, EXIT.usage, 'move the file aside and run `caracal init` to create a new evidence key');
  }
}
