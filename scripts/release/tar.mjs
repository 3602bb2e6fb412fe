// The release's reproducible tar.gz writer is the CLI's own (apps/runtime/src/archive/tar-write.ts), so releases
// and evidence packs are archived by one piece of code; build the workspace before running the release scripts.
export { collectEntries, writeTarGz } from '../../apps/runtime/dist/archive/tar-write.js';
