// The Sigstore bundle over SHA256SUMS, verified with @sigstore/verify against the pinned (or given) key alone:
// no transparency log, no certificate authority, no timestamp authority, so nothing is fetched (R-REL-2).
import type { KeyObject } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, Verifier, type TrustMaterial } from '@sigstore/verify';
import { BUNDLE_FILE, MAX_JSON_BYTES } from '../format.js';
import { CheckFailure, parseJson, readArtefact, type ReleaseContext } from './context.js';

/** Trust exactly one key, whatever hint the bundle carries: the hint is the signer's claim, the key is ours. */
function keyOnlyTrust(key: KeyObject): TrustMaterial {
  return {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: () => ({ publicKey: key, validFor: () => true }),
  };
}

export function verifySumsBundle(bundleJson: unknown, sums: Buffer, key: KeyObject): void {
  const bundle = bundleFromJSON(bundleJson);
  if (bundle.content.$case !== 'messageSignature') throw new Error('the bundle holds no message signature');
  if (bundle.verificationMaterial.content.$case !== 'publicKey') throw new Error('the bundle is not signed with a key');
  new Verifier(keyOnlyTrust(key), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle, sums));
}

export function checkBundle(ctx: ReleaseContext): string {
  const json = parseJson(BUNDLE_FILE, readArtefact(ctx, BUNDLE_FILE, MAX_JSON_BYTES));
  try {
    verifySumsBundle(json, Buffer.from(ctx.sumsText ?? ''), ctx.key);
  } catch (e) {
    throw new CheckFailure(BUNDLE_FILE, `${BUNDLE_FILE} does not verify SHA256SUMS with the trusted key: ${(e as Error).message}`);
  }
  return 'SHA256SUMS signed by the trusted key';
}
