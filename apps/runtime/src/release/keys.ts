// Release keys: ECDSA P-256 only, identified by the SHA-256 of their DER SubjectPublicKeyInfo.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliTree } from '../version.js';
import { sha256Hex } from './format.js';

export class KeyFileError extends Error {}

/** Parse a PEM public key and insist it is P-256 (anything else is refused, naming the file). */
export function parseP256PublicKey(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new KeyFileError(`${file} is not a PEM public key`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new KeyFileError(`${file} is not an ECDSA P-256 public key`);
  }
  return key;
}

export const keyId = (key: KeyObject) => sha256Hex(key.export({ format: 'der', type: 'spki' }));

/** The pinned key ships beside the CLI (installers/caracal-release.pub in a checkout and in a release). */
export const pinnedKeyPath = () => join(cliTree(), 'installers', 'caracal-release.pub');

export function loadPublicKey(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new KeyFileError(`cannot read key file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseP256PublicKey(pem, file);
}
