// Build one release directory from the working tree: stage, archive, SBOM, provenance, manifest, SHA256SUMS and
// its signatures. Written into a temporary sibling and renamed into place, so a failed build leaves nothing.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { archiveFile, formatSums, MANIFEST_FILE, provenanceFile, sbomFile, SIG_FILE, SUMS_FILE, BUNDLE_FILE } from '../../apps/runtime/dist/release/format.js';
import { buildStatement } from './provenance.mjs';
import { buildSbom } from './sbom.mjs';
import { loadReleaseKey, signStatement, signSums } from './sign.mjs';
import { isInstallState, stageTree } from './stage.mjs';
import { collectEntries, writeTarGz } from './tar.mjs';

const git = (repo, ...args) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const sha256File = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

export function sourceState(repo) {
  const commitSeconds = Number(git(repo, 'log', '-1', '--format=%ct'));
  return {
    gitSha: git(repo, 'rev-parse', 'HEAD'),
    dirty: git(repo, 'status', '--porcelain') !== '',
    commitSeconds,
    buildTime: new Date(commitSeconds * 1000).toISOString(),
  };
}

/**
 * Where the release runs: the operating systems the CLI and services support, and the Node range the workspace
 * declares (package.json `engines.node`). The tree holds no native code, so the CPU architecture does not matter.
 * `caracal upgrade` refuses a release whose platform does not include the running host.
 */
export function releasePlatform(repo) {
  const node = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).engines?.node;
  if (typeof node !== 'string') throw new Error('package.json declares no engines.node');
  return { os: ['linux', 'darwin'], node };
}

export async function buildRelease({ repo, keyFile, keyPubFile, outParent, pnpm }) {
  const started = process.hrtime.bigint();
  const key = loadReleaseKey(keyFile, keyPubFile);
  const version = JSON.parse(readFileSync(join(repo, 'apps', 'runtime', 'package.json'), 'utf8')).version;
  const src = sourceState(repo);
  mkdirSync(outParent, { recursive: true });
  const work = mkdtempSync(join(outParent, `.build-${version}-`));
  try {
    const top = join(work, 'stage', `caracal-${version}`);
    stageTree(repo, top, pnpm, { version, ...src });
    const out = join(work, 'out');
    mkdirSync(out);
    const archive = archiveFile(version);
    await writeTarGz(join(out, archive), collectEntries(top, `caracal-${version}`, isInstallState), src.commitSeconds);
    const archiveSha = sha256File(join(out, archive));

    const sbom = buildSbom(repo, { version, gitSha: src.gitSha, buildTime: src.buildTime });
    writeFileSync(join(out, sbomFile(version)), sbom.json);
    const statement = buildStatement({ version, ...src, lockSha256: sbom.lockSha256, subjects: [{ name: archive, sha256: archiveSha }] });
    writeFileSync(join(out, provenanceFile(version)), signStatement(statement, key));

    const artefacts = [archive, sbomFile(version), provenanceFile(version)].map((name) => ({ name, sha256: sha256File(join(out, name)) }));
    const manifest = { version, gitSha: src.gitSha, dirty: src.dirty, buildTime: src.buildTime, platform: releasePlatform(repo), artefacts };
    writeFileSync(join(out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    const listed = [...artefacts, { name: MANIFEST_FILE, sha256: sha256File(join(out, MANIFEST_FILE)) }];
    const sums = formatSums(listed.map((a) => ({ name: a.name, digest: a.sha256 })));
    writeFileSync(join(out, SUMS_FILE), sums);
    const { bundleJson, der } = await signSums(sums, key);
    writeFileSync(join(out, BUNDLE_FILE), bundleJson);
    writeFileSync(join(out, SIG_FILE), der);

    const dir = join(outParent, version);
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { dir, artefacts: listed, seconds, packages: sbom.count };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
