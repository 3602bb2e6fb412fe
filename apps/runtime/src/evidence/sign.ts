// The signature over an evidence manifest (R-EVD-1): a DSSE envelope whose payload is the exact manifest.json bytes,
// signed over PAE(payloadType, payload) with the evidence key, DER ECDSA in base64 like the release provenance.
import { sign, verify, type KeyObject } from 'node:crypto';
import { pae } from '../release/format.js';
import { keyId } from '../release/keys.js';

export const EVIDENCE_PAYLOAD_TYPE = 'application/vnd.caracal.evidence-manifest+json';

export function signManifest(manifest: Buffer, privateKey: KeyObject, fingerprint: string): Buffer {
  const sig = sign('sha256', pae(EVIDENCE_PAYLOAD_TYPE, manifest), privateKey);
  const envelope = { payloadType: EVIDENCE_PAYLOAD_TYPE, payload: manifest.toString('base64'), signatures: [{ keyid: fingerprint, sig: sig.toString('base64') }] };
  return Buffer.from(`${JSON.stringify(envelope, null, 2)}\n`);
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why `envelope` is not a valid signature by `key` over exactly `manifest`, or undefined when it is. */
export function signatureProblem(envelope: Buffer, manifest: Buffer, key: KeyObject): string | undefined {
  let env: unknown;
  try {
    env = JSON.parse(envelope.toString('utf8'));
  } catch {
    return 'it is not JSON';
  }
  if (!isRecord(env) || env.payloadType !== EVIDENCE_PAYLOAD_TYPE || typeof env.payload !== 'string' || !BASE64.test(env.payload) || !Array.isArray(env.signatures)) {
    return `it is not a DSSE envelope of type ${EVIDENCE_PAYLOAD_TYPE}`;
  }
  const payload = Buffer.from(env.payload, 'base64');
  if (!payload.equals(manifest)) return 'its payload is not the manifest.json of this pack';
  const signed = pae(EVIDENCE_PAYLOAD_TYPE, payload);
  const ok = env.signatures.some((s) => isRecord(s) && typeof s.sig === 'string' && BASE64.test(s.sig) && verify('sha256', signed, key, Buffer.from(s.sig, 'base64')));
  return ok ? undefined : `it carries no valid signature by key ${keyId(key)}`;
}
