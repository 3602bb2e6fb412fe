// CycloneDX 1.5 SBOM of the production dependency tree, read from pnpm-lock.yaml (v9): each package's purl,
// version and the integrity hash the lockfile holds (CycloneDX 1.5 JSON schema; purl-spec npm type).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const PROD_FIELDS = ['dependencies', 'optionalDependencies'];

/** `1.2.3(peer@4)` → `1.2.3`: pnpm appends resolved peers to a snapshot key. */
const baseVersion = (v) => v.replace(/\(.*$/, '');

export function purl(name, version) {
  const [scope, bare] = name.startsWith('@') ? name.split('/') : [undefined, name];
  const ns = scope ? `${encodeURIComponent(scope)}/` : '';
  return `pkg:npm/${ns}${encodeURIComponent(bare)}@${encodeURIComponent(version)}`;
}

/** Walk from every workspace importer's production dependencies through the snapshots. */
function productionClosure(lock) {
  const seen = new Map();
  const visit = (name, ref) => {
    if (ref.startsWith('link:')) return;
    const key = `${name}@${ref}`;
    if (seen.has(key)) return;
    const snapshot = lock.snapshots?.[key] ?? {};
    const deps = PROD_FIELDS.flatMap((f) => Object.entries(snapshot[f] ?? {}));
    seen.set(key, { name, version: baseVersion(ref), deps: deps.filter(([, r]) => !r.startsWith('link:')).map(([n, r]) => `${n}@${r}`) });
    for (const [n, r] of deps) visit(n, r);
  };
  for (const importer of Object.values(lock.importers ?? {})) {
    for (const f of PROD_FIELDS) for (const [n, d] of Object.entries(importer[f] ?? {})) visit(n, d.version);
  }
  return seen;
}

export function buildSbom(repo, { version, gitSha, buildTime }) {
  const lockText = readFileSync(join(repo, 'pnpm-lock.yaml'), 'utf8');
  const lock = parse(lockText);
  const closure = productionClosure(lock);
  const refOf = new Map([...closure].map(([key, p]) => [key, purl(p.name, p.version)]));
  const components = new Map();
  for (const p of closure.values()) {
    const ref = purl(p.name, p.version);
    if (components.has(ref)) continue;
    const integrity = lock.packages?.[`${p.name}@${p.version}`]?.resolution?.integrity;
    if (!integrity) throw new Error(`pnpm-lock.yaml holds no integrity hash for ${p.name}@${p.version}`);
    const [alg, b64] = integrity.split('-');
    components.set(ref, {
      type: 'library',
      'bom-ref': ref,
      name: p.name,
      version: p.version,
      purl: ref,
      hashes: [{ alg: alg.toUpperCase().replace('SHA', 'SHA-'), content: Buffer.from(b64, 'base64').toString('hex') }],
      properties: [{ name: 'pnpm:integrity', value: integrity }],
    });
  }
  const dependsOn = new Map();
  for (const [key, p] of closure) {
    const set = dependsOn.get(refOf.get(key)) ?? new Set();
    for (const d of p.deps) set.add(refOf.get(d));
    dependsOn.set(refOf.get(key), set);
  }
  const byRef = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const self = purl('caracal', version);
  // A stable serial number: the same commit gives the same SBOM (RFC 9562 shape, derived from the commit).
  const h = createHash('sha256').update(`${gitSha}:${version}`).digest('hex');
  const serial = `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  const bom = {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: serial,
    version: 1,
    metadata: { timestamp: buildTime, component: { type: 'application', 'bom-ref': self, name: 'caracal', version, purl: self } },
    components: [...components.values()].sort((a, b) => byRef(a.purl, b.purl)),
    dependencies: [...dependsOn].sort(([a], [b]) => byRef(a, b)).map(([ref, deps]) => ({ ref, dependsOn: [...deps].sort(byRef) })),
  };
  return { json: `${JSON.stringify(bom, null, 2)}\n`, lockSha256: createHash('sha256').update(lockText).digest('hex'), count: components.size };
}
