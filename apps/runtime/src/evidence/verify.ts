// `caracal evidence-pack verify` (R-EVD-1): offline, recomputes every digest, checks the manifest's signature and
// names every file added, removed, renamed (a removed path whose digest an added path has) or altered.
import type { KeyObject } from 'node:crypto';
import { KeyFileError, keyId, parseP256PublicKey } from '../release/keys.js';
import { MANIFEST_NAME, parseManifest, PUBLIC_KEY_NAME, SIGNATURE_NAME, UNLISTED, type Manifest } from './manifest.js';
import { PACK_LIMITS, PackUnreadable, readPack, type PackLimits, type PackListing } from './pack-files.js';
import { signatureProblem } from './sign.js';

export type FindingKind = 'signature' | 'manifest' | 'added' | 'removed' | 'renamed' | 'altered';

export interface Finding {
  kind: FindingKind;
  path: string;
  detail: string;
}

export interface VerifyReport {
  path: string;
  source: PackListing['source'];
  ok: boolean;
  /** The key the signature was checked with: the one given with --key, or the pack's own copy. */
  key: { fingerprint: string | null; source: '--key' | 'pack' };
  generated_at: string | null;
  files: number;
  findings: Finding[];
}

function packKey(listing: PackListing): KeyObject | string {
  const pem = listing.content.get(PUBLIC_KEY_NAME);
  if (!pem) return `the pack holds no ${PUBLIC_KEY_NAME} and no --key was given`;
  try {
    return parseP256PublicKey(pem.toString('utf8'), PUBLIC_KEY_NAME);
  } catch (e) {
    if (e instanceof KeyFileError) return e.message;
    throw e;
  }
}

function signatureFindings(listing: PackListing, manifest: Buffer, parsed: Manifest | null, key: KeyObject | string): Finding[] {
  const sig = listing.content.get(SIGNATURE_NAME);
  if (!listing.files.has(SIGNATURE_NAME)) return [{ kind: 'signature', path: SIGNATURE_NAME, detail: 'the signature over the manifest was removed' }];
  if (typeof key === 'string') return [{ kind: 'signature', path: SIGNATURE_NAME, detail: `the signature cannot be checked: ${key}` }];
  const problem = sig ? signatureProblem(sig, manifest, key) : 'it is too large to be a signature';
  const out: Finding[] = problem ? [{ kind: 'signature', path: SIGNATURE_NAME, detail: `bad or replaced signature: ${problem}` }] : [];
  if (parsed && parsed.key_fingerprint !== keyId(key)) {
    out.push({ kind: 'signature', path: MANIFEST_NAME, detail: `the manifest names evidence key ${parsed.key_fingerprint}, not ${keyId(key)}` });
  }
  return out;
}

/** Every difference between what the manifest lists and what the pack holds; renames paired by digest. */
export function fileFindings(listed: Manifest['files'], actual: PackListing['files']): Finding[] {
  const expected = new Map(listed.map((f) => [f.path, f]));
  const present = [...actual.keys()].filter((p) => !UNLISTED.includes(p));
  const added = present.filter((p) => !expected.has(p));
  const removed = listed.filter((f) => !actual.has(f.path));
  const findings: Finding[] = [];
  for (const f of listed) {
    const got = actual.get(f.path);
    if (got && (got.sha256 !== f.sha256 || got.size !== f.size)) findings.push({ kind: 'altered', path: f.path, detail: `sha256 ${got.sha256} (${got.size} bytes), manifest says ${f.sha256} (${f.size} bytes)` });
  }
  for (const f of removed) {
    const to = added.findIndex((p) => actual.get(p)!.sha256 === f.sha256);
    if (to >= 0) {
      findings.push({ kind: 'renamed', path: f.path, detail: `renamed to ${added[to]} (same sha256 ${f.sha256})` });
      added.splice(to, 1);
    } else findings.push({ kind: 'removed', path: f.path, detail: 'listed in the manifest, missing from the pack' });
  }
  for (const p of added) findings.push({ kind: 'added', path: p, detail: 'in the pack, not listed in the manifest' });
  return findings.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/**
 * Verifies the pack at `target` (directory or tar.gz) against `key` (default: the pack's own public key, which only
 * proves consistency; an auditor passes the installation's key). Throws PackUnreadable when it is no pack at all.
 */
export async function verifyPack(target: string, opts: { key?: KeyObject; limits?: PackLimits } = {}): Promise<{ report: VerifyReport; manifest: Manifest | null }> {
  const listing = await readPack(target, opts.limits ?? PACK_LIMITS);
  if (!listing.files.has(MANIFEST_NAME) && !listing.files.has(SIGNATURE_NAME)) {
    throw new PackUnreadable(`${target} is not an evidence pack: it holds neither ${MANIFEST_NAME} nor ${SIGNATURE_NAME}`);
  }
  const key = opts.key ?? packKey(listing);
  const findings: Finding[] = [];
  let manifest: Manifest | null = null;
  const bytes = listing.content.get(MANIFEST_NAME);
  if (!bytes) findings.push({ kind: 'manifest', path: MANIFEST_NAME, detail: listing.files.has(MANIFEST_NAME) ? 'the manifest is too large to be one' : 'the manifest was removed' });
  else {
    try {
      manifest = parseManifest(bytes);
    } catch (e) {
      findings.push({ kind: 'manifest', path: MANIFEST_NAME, detail: (e as Error).message });
    }
    findings.push(...signatureFindings(listing, bytes, manifest, key));
  }
  if (manifest) findings.push(...fileFindings(manifest.files, listing.files));
  const report: VerifyReport = {
    path: target,
    source: listing.source,
    ok: findings.length === 0,
    key: { fingerprint: typeof key === 'string' ? null : keyId(key), source: opts.key ? '--key' : 'pack' },
    generated_at: manifest?.generated_at ?? null,
    files: listing.files.size,
    findings,
  };
  return { report, manifest };
}
