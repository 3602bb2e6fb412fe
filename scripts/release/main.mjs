// `pnpm release` builds dist/release/<version>/ (R-REL-1); `pnpm release keygen --out DIR` makes a release key.
// Exit codes: 0 built, 1 the build failed, 2 usage error.
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keygen } from './keygen.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const USAGE = `usage: pnpm release [--key PRIVATE.pem] [--key-pub PUBLIC.pem] [--out DIR]
       pnpm release keygen --out DIR

  --key      release private key (P-256 PEM); default $CARACAL_RELEASE_KEY
  --key-pub  public key the private key must match; default the pinned installers/caracal-release.pub
  --out      parent directory of <version>/; default dist/release

Exit codes: 0 built, 1 build failed, 2 usage error`;

class UsageError extends Error {}

function parse(argv) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: { key: { type: 'string' }, 'key-pub': { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } } });
  } catch (e) {
    throw new UsageError(e.message);
  }
}

async function main(argv) {
  const { values, positionals } = parse(argv);
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (positionals[0] === 'keygen') {
    if (!values.out) throw new UsageError('keygen needs --out DIR (keep it outside the repository)');
    const { privateFile, publicFile } = keygen(resolve(values.out));
    process.stdout.write(`private key: ${privateFile} (mode 0400)\npublic key:  ${publicFile}\n`);
    return;
  }
  if (positionals.length > 0) throw new UsageError(`unknown argument ${positionals[0]}`);
  const key = values.key ?? process.env.CARACAL_RELEASE_KEY;
  if (!key) throw new UsageError('no release key: pass --key FILE or set CARACAL_RELEASE_KEY');
  const keyPub = values['key-pub'] ?? join(repo, 'installers', 'caracal-release.pub');
  const build = spawnSync(pnpmPath(), ['run', 'build'], { cwd: repo, stdio: ['ignore', 2, 2] });
  if (build.status !== 0) throw new Error('pnpm run build failed');
  // Imported after the build: the release code shares its formats with the CLI's compiled verify-release.
  const { buildRelease } = await import('./build.mjs');
  const r = await buildRelease({ repo, keyFile: resolve(key), keyPubFile: resolve(keyPub), outParent: resolve(values.out ?? join(repo, 'dist', 'release')), pnpm: pnpmPath() });
  process.stdout.write(`${r.dir}\n`);
  for (const a of r.artefacts) process.stderr.write(`  ${a.sha256}  ${a.name}\n`);
  process.stderr.write(`built in ${r.seconds.toFixed(1)} s (${r.packages} production packages in the SBOM)\n`);
}

/** The pnpm the project pins (scripts/pinned-pnpm.sh), else the one on PATH. */
function pnpmPath() {
  const pinned = join(repo, '.tools', 'pnpm', 'bin', 'pnpm');
  return existsSync(pinned) ? pinned : 'pnpm';
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`release: ${e.message}\n`);
  if (e instanceof UsageError) process.stderr.write(`${USAGE}\n`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
});
