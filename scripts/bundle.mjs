// Part of `pnpm run build`, after tsc: each service's compiled entry (services/<name>/dist/main.js) and everything
// it imports, as one ES module, services/<name>/dist/service.mjs, which `caracal up` starts; and the CLI's
// (apps/runtime/dist/main.js) as apps/runtime/dist/cli.mjs, which bin/caracal.js runs. A process then loads one file
// instead of some 900 modules: about half a service's start-up CPU and a smaller resident set (bench/up).
// A bundle is the JavaScript tsc emitted, without its whitespace and with shorter syntax (V8 reads and parses a
// fifth less); identifiers, and so the names in stack traces, are kept.
// @caracal/policy stays an import: it locates the opa-wasm SDK's files next to its own module.
// The bundles run on Node.js only, so pg's check for a Cloudflare Workers runtime is answered here: on Node 20 it
// builds a fetch Response to find out, which loads Node's whole fetch implementation (some 20 ms of start-up CPU in
// every process).
// A bundle is only ever replaced whole (replaceFile): builds run while processes start from these files (the
// release build runs `pnpm run build` during the test suite), and one must never read a bundle half written.
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replaceFile } from './lib/replace-file.mjs';

const REPO = new URL('..', import.meta.url).pathname;

const services = readdirSync(join(REPO, 'services')).filter((s) => existsSync(join(REPO, 'services', s, 'dist', 'main.js'))).sort();
const bundles = [
  ...services.map((s) => ({ from: join(REPO, 'services', s, 'dist', 'main.js'), to: join(REPO, 'services', s, 'dist', 'service.mjs') })),
  // The CLI's bundle lies beside version.js, so paths it derives from its own module stay right (version.ts).
  { from: join(REPO, 'apps', 'runtime', 'dist', 'main.js'), to: join(REPO, 'apps', 'runtime', 'dist', 'cli.mjs') },
  // The supervisor's too (dist/supervisor.mjs), beside version.js for the same reason; `caracal up` waits for it.
  { from: join(REPO, 'apps', 'runtime', 'dist', 'supervisor', 'main.js'), to: join(REPO, 'apps', 'runtime', 'dist', 'supervisor.mjs') },
];

/**
 * pg/lib/stream.js with isCloudflareRuntime() answering false. The build fails if pg no longer has that function,
 * or if no bundle met the file at all (pg moved it).
 */
let pgStreamsAnswered = 0;
const nodeOnlyPg = {
  name: 'pg-node-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      const probe = 'function isCloudflareRuntime() {';
      if (!source.includes(probe)) throw new Error(`${path}: no ${probe} to answer for Node.js`);
      pgStreamsAnswered += 1;
      return { contents: source.replace(probe, `${probe}\n  return false;`), loader: 'js' };
    });
  },
};

await Promise.all(
  bundles.map(({ from, to }) =>
    build({
      entryPoints: [from],
      outfile: to,
      absWorkingDir: REPO,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      keepNames: true,
      minifyWhitespace: true,
      minifySyntax: true,
      // CommonJS dependencies call require(); an ES module has none of its own.
      banner: { js: "import { createRequire as caracalCreateRequire } from 'node:module';\nconst require = caracalCreateRequire(import.meta.url);" },
      external: ['@caracal/policy', 'pg-native'],
      plugins: [nodeOnlyPg],
      logLevel: 'warning',
      write: false,
    }).then((r) => replaceFile(to, r.outputFiles[0].contents)),
  ),
);
if (pgStreamsAnswered === 0) throw new Error('no bundle holds pg/lib/stream.js: its Cloudflare Workers check is no longer answered at build time');
