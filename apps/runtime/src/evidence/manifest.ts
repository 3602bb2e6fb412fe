// The evidence pack's file names and its manifest (R-EVD-1): every file with its SHA-256 and size, and per check
// its command, times, status and reason. Written as exact bytes (that is what the signature covers) and parsed back
// strictly by the verifier and by `--previous`.
import type { ChainHeads, CheckStatus } from './check.js';

export const MANIFEST_SCHEMA = 'caracal.evidence/v1';
export const MANIFEST_NAME = 'manifest.json';
export const SIGNATURE_NAME = 'manifest.sig.json';
export const PUBLIC_KEY_NAME = 'evidence-key.pub.pem';
export const REPORT_NAME = 'REPORT.md';
export const THREAT_MODEL_NAME = 'THREAT_MODEL.md';
export const JUNIT_PATH = 'raw/checks.junit.xml';
/** The files the manifest cannot list: itself and the signature over it. */
export const UNLISTED: readonly string[] = [MANIFEST_NAME, SIGNATURE_NAME];

export interface PackMeta {
  generated_at: string;
  version: string;
  git_sha: string | null;
  host: string;
  operator: { user: string; uid: number | null };
  key_fingerprint: string;
}

export interface ManifestCheck {
  id: string;
  pillar: string;
  title: string;
  status: CheckStatus;
  reason: string;
  command: string;
  started_at: string;
  ended_at: string;
  controls: readonly string[];
  raw: string[];
}

export interface FileDigest {
  path: string;
  sha256: string;
  size: number;
}

export interface Manifest extends PackMeta {
  schema: typeof MANIFEST_SCHEMA;
  previous: { path: string; generated_at: string } | null;
  chain_heads: ChainHeads | null;
  checks: ManifestCheck[];
  files: FileDigest[];
}

/** Byte order of UTF-8 paths, the order of the manifest's files and of the archive's entries. */
export const byPath = (a: { path: string }, b: { path: string }) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));

export function manifestBytes(m: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify({ ...m, files: [...m.files].sort(byPath) }, null, 2)}\n`);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const SHA256 = /^[0-9a-f]{64}$/;

function isHeads(v: unknown): v is ChainHeads {
  if (!isRecord(v) || !isRecord(v.zones) || (v.admin !== null && !isRecord(v.admin))) return false;
  const head = (h: unknown) => isRecord(h) && Number.isSafeInteger(h.seq) && typeof h.content_sha256 === 'string';
  return Object.values(v.zones).every(head) && (v.admin === null || head(v.admin));
}

/** The manifest in `bytes`, or an Error saying what makes it no evidence manifest. */
export function parseManifest(bytes: Buffer): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error(`${MANIFEST_NAME} is not JSON`);
  }
  if (!isRecord(m) || m.schema !== MANIFEST_SCHEMA) throw new Error(`${MANIFEST_NAME} is not a ${MANIFEST_SCHEMA} manifest`);
  if (typeof m.generated_at !== 'string' || Number.isNaN(Date.parse(m.generated_at))) throw new Error(`${MANIFEST_NAME} has no valid generated_at`);
  if (typeof m.key_fingerprint !== 'string' || !SHA256.test(m.key_fingerprint)) throw new Error(`${MANIFEST_NAME} has no valid key_fingerprint`);
  if (!Array.isArray(m.checks) || !m.checks.every((c) => isRecord(c) && typeof c.id === 'string' && typeof c.status === 'string')) {
    throw new Error(`${MANIFEST_NAME} has no valid checks list`);
  }
  const files = m.files;
  if (!Array.isArray(files) || !files.every((f) => isRecord(f) && typeof f.path === 'string' && typeof f.sha256 === 'string' && SHA256.test(f.sha256) && Number.isSafeInteger(f.size))) {
    throw new Error(`${MANIFEST_NAME} has no valid files list`);
  }
  if (new Set(files.map((f) => (f as FileDigest).path)).size !== files.length) throw new Error(`${MANIFEST_NAME} lists a path twice`);
  if (m.chain_heads !== null && !isHeads(m.chain_heads)) throw new Error(`${MANIFEST_NAME} has malformed chain_heads`);
  return m as unknown as Manifest;
}
