// Derives a release of another version from a built one in seconds, for upgrade tests and bench/upgrade: unpack
// its archive, set the version, add migrations (and record them in the migrations manifest), patch the tree, repack
// reproducibly, rewrite SBOM, provenance and manifest for the new version and sign everything with the given key.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { archiveFile, BUNDLE_FILE, formatSums, MANIFEST_FILE, provenanceFile, sbomFile, SIG_FILE, SUMS_FILE } from '../../apps/runtime/dist/release/format.js';
import { loadReleaseKey, signStatement, signSums } from '../../scripts/release/sign.mjs';
import { isInstallState } from '../../scripts/release/stage.mjs';
import { collectEntries, writeTarGz } from '../../scripts/release/tar.mjs';

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** The version of the release in `dir`, from its single archive. */
export function releaseVersion(dir) {
  const archive = readdirSync(dir).find((f) => /^caracal-.+\.tar\.gz$/.test(f));
  if (!archive) throw new Error(`${dir} holds no caracal-<version>.tar.gz`);
  return archive.slice('caracal-'.length, -'.tar.gz'.length);
}

/** Replace `find` by `replace` in `file` under `tree`; fails when `find` is not there, so a stale patch is loud. */
export function patchFile(tree, file, find, replace) {
  const path = join(tree, file);
  const text = readFileSync(path, 'utf8');
  if (!text.includes(find)) throw new Error(`${file} does not contain ${JSON.stringify(find)}`);
  writeFileSync(path, text.replace(find, replace));
}

/**
 * The expand migration a derived release adds: a nullable column on a table every version reads and the api writes,
 * numbered after the migrations of the release it is derived from.
 */
export function labelMigration(number) {
  return { file: `${String(number).padStart(4, '0')}_add_zone_label.up.sql`, sql: '-- Zones get an optional label (expand: nullable, no table rewrite).\nALTER TABLE zones ADD COLUMN label text;\n' };
}

/** A release whose services use that column: their readiness reads it, so they are never ready without it. */
export function readsLabel(tree) {
  patchFile(tree, 'packages/service-kit/dist/standard-checks.js', "pool.query('SELECT 1')", "pool.query('SELECT label FROM zones LIMIT 0')");
  // The same check inside each service's bundle (scripts/bundle.mjs), which is the file `caracal up` starts.
  for (const s of readdirSync(join(tree, 'services'))) {
    patchFile(tree, `services/${s}/dist/service.mjs`, 'pool.query("SELECT 1")', 'pool.query("SELECT label FROM zones LIMIT 0")');
  }
}

/**
 * @param {object} o
 * @param {string} o.from            directory of the built release
 * @param {string} o.outParent       the new release is written to <outParent>/<version>
 * @param {string} o.version
 * @param {{privateFile: string, publicFile: string}} o.key
 * @param {Array<{file: string, sql: string}>} [o.migrations]  added to infra/postgres/migrations
 * @param {(tree: string) => void} [o.patch]                   edits the unpacked tree before repacking
 * @param {(manifest: Record<string, string>, dir: string) => Record<string, string>} [o.migrationManifest]  rewrites it
 *   last (`dir` is the tree's migrations directory)
 * @param {unknown} [o.platform]     replaces manifest.json's platform (undefined keeps it, null removes it)
 */
export async function deriveRelease(o) {
  const fromVersion = releaseVersion(o.from);
  const work = mkdtempSync(join(o.outParent, `.derive-${o.version}-`));
  try {
    execFileSync('tar', ['-xzf', join(o.from, archiveFile(fromVersion)), '-C', work]);
    const tree = join(work, `caracal-${o.version}`);
    renameSync(join(work, `caracal-${fromVersion}`), tree);
    const pkgFile = join(tree, 'apps', 'runtime', 'package.json');
    writeFileSync(pkgFile, `${JSON.stringify({ ...readJson(pkgFile), version: o.version }, null, 2)}\n`);
    const migrations = join(tree, 'infra', 'postgres', 'migrations');
    let manifest = readJson(join(migrations, 'manifest.json'));
    for (const m of o.migrations ?? []) {
      writeFileSync(join(migrations, m.file), m.sql);
      manifest[m.file] ??= sha256(m.sql);
    }
    o.patch?.(tree);
    if (o.migrationManifest) manifest = o.migrationManifest(manifest, migrations);
    const sorted = Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => a.localeCompare(b)));
    writeFileSync(join(migrations, 'manifest.json'), `${JSON.stringify(sorted, null, 2)}\n`);

    const out = join(work, 'out');
    mkdirSync(out);
    const archive = archiveFile(o.version);
    const old = readJson(join(o.from, MANIFEST_FILE));
    const mtime = Math.floor(Date.parse(old.buildTime) / 1000);
    await writeTarGz(join(out, archive), collectEntries(tree, `caracal-${o.version}`, isInstallState), mtime);
    const archiveSha = sha256(readFileSync(join(out, archive)));

    const sbom = readJson(join(o.from, sbomFile(fromVersion)));
    if (sbom.metadata?.component) sbom.metadata.component.version = o.version;
    writeFileSync(join(out, sbomFile(o.version)), `${JSON.stringify(sbom, null, 2)}\n`);

    const key = loadReleaseKey(o.key.privateFile, o.key.publicFile);
    const envelope = readJson(join(o.from, provenanceFile(fromVersion)));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    statement.subject = [{ name: archive, digest: { sha256: archiveSha } }];
    statement.predicate.buildDefinition.externalParameters.version = o.version;
    writeFileSync(join(out, provenanceFile(o.version)), signStatement(statement, key));

    const artefacts = [archive, sbomFile(o.version), provenanceFile(o.version)].map((name) => ({ name, sha256: sha256(readFileSync(join(out, name))) }));
    const next = { ...old, version: o.version, artefacts };
    if (o.platform === null) delete next.platform;
    else if (o.platform !== undefined) next.platform = o.platform;
    writeFileSync(join(out, MANIFEST_FILE), `${JSON.stringify(next, null, 2)}\n`);
    const listed = [...artefacts, { name: MANIFEST_FILE, sha256: sha256(readFileSync(join(out, MANIFEST_FILE))) }];
    const sums = formatSums(listed.map((a) => ({ name: a.name, digest: a.sha256 })));
    writeFileSync(join(out, SUMS_FILE), sums);
    const { bundleJson, der } = await signSums(sums, key);
    writeFileSync(join(out, BUNDLE_FILE), bundleJson);
    writeFileSync(join(out, SIG_FILE), der);

    const dir = join(o.outParent, o.version);
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
    return dir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
