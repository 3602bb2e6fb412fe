// manifest.json agrees with the signed provenance and SHA256SUMS: version, git sha, dirty flag and every digest.
import { MANIFEST_FILE, MAX_JSON_BYTES, SUMS_FILE } from '../format.js';
import { CheckFailure, isRecord, listedDigest, parseJson, readArtefact, type ReleaseContext } from './context.js';

function fail(message: string): never {
  throw new CheckFailure(MANIFEST_FILE, `${MANIFEST_FILE} ${message}`);
}

export function checkManifest(ctx: ReleaseContext): string {
  listedDigest(ctx, MANIFEST_FILE);
  const m = parseJson(MANIFEST_FILE, readArtefact(ctx, MANIFEST_FILE, MAX_JSON_BYTES));
  if (!isRecord(m)) fail('is not an object');
  const def = (ctx.statement as { predicate: { buildDefinition: { externalParameters?: unknown } } }).predicate.buildDefinition;
  const params = isRecord(def.externalParameters) ? def.externalParameters : {};
  const source = isRecord(params.source) ? params.source : {};
  if (m.version !== ctx.version || params.version !== ctx.version) fail(`version ${JSON.stringify(m.version)} disagrees with the archive name or provenance (${ctx.version})`);
  if (m.gitSha !== source.gitCommit) fail(`git sha ${JSON.stringify(m.gitSha)} disagrees with the provenance (${JSON.stringify(source.gitCommit)})`);
  if (m.dirty !== source.dirty) fail(`dirty flag disagrees with the provenance`);
  const artefacts = Array.isArray(m.artefacts) ? m.artefacts : fail('lists no artefacts');
  const expected = (ctx.sums ?? []).filter((l) => l.name !== MANIFEST_FILE);
  if (artefacts.length !== expected.length) fail(`lists ${artefacts.length} artefacts, ${SUMS_FILE} ${expected.length}`);
  for (const a of artefacts) {
    if (!isRecord(a) || typeof a.sha256 !== 'string' || a.sha256 !== expected.find((l) => l.name === a.name)?.digest) fail(`digest of ${isRecord(a) ? String(a.name) : '?'} disagrees with ${SUMS_FILE}`);
  }
  return `version ${ctx.version}, ${String(m.gitSha).slice(0, 12)}${m.dirty ? ' (dirty)' : ''}`;
}
