// The release's file names, constants and encodings, shared by `scripts/release` (which writes them) and
// `caracal verify-release` (which checks them), so the two can never disagree (R-REL-1, R-REL-2).
import { createHash } from 'node:crypto';

export const SUMS_FILE = 'SHA256SUMS';
export const BUNDLE_FILE = 'SHA256SUMS.sigstore.json';
export const SIG_FILE = 'SHA256SUMS.sig';
export const MANIFEST_FILE = 'manifest.json';
/** In the archive's top directory: the version, commit and dirty flag the tree was built from, so an installation
 *  can say where it came from without a git checkout. */
export const SOURCE_FILE = 'release-source.json';
/** What installers/install.sh writes into an installed version: every file it created, with its digest. */
export const RECEIPT_FILE = 'INSTALL-RECEIPT';
export const archiveFile = (version: string) => `caracal-${version}.tar.gz`;
export const sbomFile = (version: string) => `caracal-${version}.cdx.json`;
export const provenanceFile = (version: string) => `caracal-${version}.intoto.jsonl`;

/** Files that sign SHA256SUMS and so cannot be listed in it. */
export const SIGNATURE_FILES: readonly string[] = [BUNDLE_FILE, SIG_FILE];

/** The SLSA buildType this project defines for `scripts/release` (SLSA Provenance v1 §buildDefinition). */
export const BUILD_TYPE = 'https://caracal.dev/release/build-type/v1';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';
/** DSSE payloadType for an in-toto statement (in-toto attestation framework, envelope.md). */
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** Largest SHA256SUMS read: a release lists a handful of files, so anything bigger is refused unread. */
export const MAX_SUMS_BYTES = 64 * 1024;
/** Largest JSON artefact (bundle, envelope, manifest, SBOM) parsed. */
export const MAX_JSON_BYTES = 16 * 1024 * 1024;

export const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** DSSE v1 pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body (DSSE protocol.md). */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export interface SumsLine {
  digest: string;
  name: string;
}

/** The `sha256sum` text format, sorted by name so the file is a pure function of its inputs. */
export function formatSums(lines: readonly SumsLine[]): string {
  return [...lines].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((l) => `${l.digest}  ${l.name}\n`).join('');
}
