// `pnpm release keygen --out DIR`: a new ECDSA P-256 release key pair. The private key is written 0400 into a 0700
// directory and never printed; an existing key is never overwritten.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PRIVATE_NAME = 'caracal-release.key';
export const PUBLIC_NAME = 'caracal-release.pub';

export function keygen(outDir) {
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const priv = join(outDir, PRIVATE_NAME);
  const pub = join(outDir, PUBLIC_NAME);
  // 'wx': fail rather than replace a key that may already sign releases.
  writeFileSync(priv, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o400, flag: 'wx' });
  writeFileSync(pub, publicKey.export({ format: 'pem', type: 'spki' }), { mode: 0o644, flag: 'wx' });
  return { privateFile: priv, publicFile: pub };
}
