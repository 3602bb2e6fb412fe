// Signing with the release key: the Sigstore bundle (and its detached DER twin) over SHA256SUMS, and the DSSE
// envelope around the provenance. Key-based only: keyless signing needs Fulcio and Rekor, unreachable offline.
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MessageSignatureBundleBuilder } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { INTOTO_PAYLOAD_TYPE, pae } from '../../apps/runtime/dist/release/format.js';
import { keyId, loadPublicKey } from '../../apps/runtime/dist/release/keys.js';

export class ReleaseKeyError extends Error {}

/**
 * Load the private key and check its public half is the expected one (the pinned key unless --key-pub names
 * another), so a release can never be signed by a key its verifiers do not trust.
 */
export function loadReleaseKey(privateFile, publicFile) {
  let privateKey;
  try {
    privateKey = createPrivateKey(readFileSync(privateFile));
  } catch (e) {
    throw new ReleaseKeyError(`cannot use private key ${privateFile}: ${e.code ?? 'not a PEM private key'}`);
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ReleaseKeyError(`${privateFile} is not an ECDSA P-256 private key`);
  }
  const publicKey = createPublicKey(privateKey);
  const expected = loadPublicKey(publicFile);
  if (!publicKey.equals(expected)) {
    throw new ReleaseKeyError(`the public half of ${privateFile} does not match ${publicFile}; pass --key-pub to name the key it belongs to`);
  }
  return { privateKey, publicKey, keyid: keyId(publicKey) };
}

/** Sigstore bundle (message signature, public-key verification material) plus the raw DER signature. */
export async function signSums(sums, key) {
  const publicPem = key.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  let der;
  const signer = {
    async sign(data) {
      der = sign('sha256', data, key.privateKey);
      return { signature: der, key: { $case: 'publicKey', publicKey: publicPem, hint: key.keyid } };
    },
  };
  const bundle = await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data: Buffer.from(sums) });
  return { bundleJson: `${JSON.stringify(bundleToJSON(bundle), null, 2)}\n`, der };
}

/** DSSE envelope over an in-toto statement; the signature covers PAE(payloadType, payload) (DSSE protocol.md). */
export function signStatement(statement, key) {
  const payload = Buffer.from(JSON.stringify(statement));
  const sig = sign('sha256', pae(INTOTO_PAYLOAD_TYPE, payload), key.privateKey);
  const envelope = { payloadType: INTOTO_PAYLOAD_TYPE, payload: payload.toString('base64'), signatures: [{ keyid: key.keyid, sig: sig.toString('base64') }] };
  return `${JSON.stringify(envelope)}\n`;
}
