// The SBOM: listed in SHA256SUMS (so its digest was checked) and a CycloneDX 1.5+ document whose components each
// carry a purl and version (R-REL-1, R-REL-2).
import { MAX_JSON_BYTES, sbomFile } from '../format.js';
import { CheckFailure, isRecord, listedDigest, parseJson, readArtefact, type ReleaseContext } from './context.js';

export function checkSbom(ctx: ReleaseContext): string {
  const name = sbomFile(ctx.version!);
  listedDigest(ctx, name);
  const bom = parseJson(name, readArtefact(ctx, name, MAX_JSON_BYTES));
  if (!isRecord(bom) || bom.bomFormat !== 'CycloneDX' || typeof bom.specVersion !== 'string') throw new CheckFailure(name, `${name} is not a CycloneDX document`);
  const [major, minor] = bom.specVersion.split('.').map(Number);
  if (major !== 1 || !(minor! >= 5)) throw new CheckFailure(name, `${name} is CycloneDX ${bom.specVersion}; 1.5 or newer is required`);
  const components = Array.isArray(bom.components) ? bom.components : undefined;
  if (!components || !components.every((c) => isRecord(c) && typeof c.purl === 'string' && typeof c.version === 'string')) {
    throw new CheckFailure(name, `${name} has components without a purl and version`);
  }
  return `CycloneDX ${bom.specVersion}, ${components.length} components`;
}
