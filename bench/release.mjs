// bench/release: the release build's wall time, and `caracal verify-release` on that release against `sha256sum`
// over the same files (the floor any verifier pays: reading and hashing every byte), measured in the same run.
// Throwaway keys; the release goes to a temp directory. Usage: pnpm bench:release [--runs N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg } from './lib/load.mjs';
import { machine, Misbehaviour, onCleanup, REPO, runBench, source, writeOut } from './lib/stack.mjs';

const RUNS = arg('--runs', 7);
const TARGET_RATIO = 1.5;
const RELEASE = join(REPO, 'scripts/release/main.mjs');
const CLI = join(REPO, 'apps/runtime/bin/caracal.js');

const timed = (file, args) => {
  const t0 = process.hrtime.bigint();
  execFileSync(file, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r2 = (x) => Math.round(x * 100) / 100;

await runBench(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caracal-bench-release-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(process.execPath, [RELEASE, 'keygen', '--out', join(dir, 'key')], { stdio: 'ignore' });
  const key = join(dir, 'key', 'caracal-release.key');
  const pub = join(dir, 'key', 'caracal-release.pub');

  const buildMs = timed(process.execPath, [RELEASE, '--key', key, '--key-pub', pub, '--out', join(dir, 'out')]);
  const [version] = readdirSync(join(dir, 'out'));
  const release = join(dir, 'out', version);
  const files = readdirSync(release).sort();

  // Interleaved so that any disturbance hits both sides alike; the first of each is a warm-up.
  const verify = [];
  const floor = [];
  for (let i = 0; i <= RUNS; i++) {
    const v = timed(process.execPath, [CLI, 'verify-release', release, '--key', pub]);
    const f = timed('sha256sum', files.map((f) => join(release, f)));
    if (i > 0) {
      verify.push(v);
      floor.push(f);
    }
  }
  // The fixed cost of starting the CLI at all, for reading where verify-release's time goes.
  const startMs = median(Array.from({ length: RUNS }, () => timed(process.execPath, [CLI, '--version'])));
  if (!verify.length) throw new Misbehaviour('no runs');
  const result = {
    machine: machine(),
    source: source(),
    release: { version, files, build_ms: r2(buildMs) },
    verify_release_ms: { median: r2(median(verify)), runs: verify.map(r2) },
    sha256sum_ms: { median: r2(median(floor)), runs: floor.map(r2) },
    cli_start_ms: r2(startMs),
    ratio: r2(median(verify) / median(floor)),
    target_ratio: TARGET_RATIO,
  };
  writeOut('release', result);
  console.log(JSON.stringify(result, null, 2));
  console.log(`verify-release ${result.verify_release_ms.median} ms vs sha256sum ${result.sha256sum_ms.median} ms: ${result.ratio}× (target ≤ ${TARGET_RATIO}×); build ${result.release.build_ms} ms`);
});
