// Sealing with the KEK (R-DB-1): AES-256-GCM, with the row's identity as associated data so a sealed value
// copied onto another row (or another purpose) fails to open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SealError extends Error {
  readonly code = 'CARACAL_SEAL_FAILED';
}

function kekBuffer(kekHex: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(kekHex)) throw new SealError('the KEK must be 32 bytes of lowercase hex');
  return Buffer.from(kekHex, 'hex');
}

/** Layout: version (1) | iv (12) | tag (16) | ciphertext. */
export function seal(kekHex: string, plaintext: Buffer | string, context: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kekBuffer(kekHex), iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
}

export function unseal(kekHex: string, sealed: Buffer, context: string): Buffer {
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw new SealError('sealed value is malformed');
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', kekBuffer(kekHex), iv);
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    // Wrong key, wrong context or tampered bytes: indistinguishable on purpose.
    throw new SealError('sealed value cannot be opened');
  }
}
